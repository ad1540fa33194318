"""Creating a payment and authorizing it at the gateway (pending → authorized | failed),
letting the gateway's hold go when the payment was voided while it authorized."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.changes import changed_fields, field_values
from core.sql import write_together

from ..gateways import GatewayResult, get_gateway
from ..models import GatewayOperation, Payment, PaymentStatus
from .gateway_calls import _claim, _complete, _lock, _money, _perform

logger = logging.getLogger(__name__)


def payment_create(**fields) -> Payment:
    """Called inside the order's placing transaction (the fields are
    `payment_build`'s); talks to no gateway."""
    payment = payment_build(**fields)
    payment.save()
    return payment


def payment_build(
    *, order, method: str, token: str, amount: Decimal, currency: str, gateway: str
) -> Payment:
    """`payment_create` without the save, for a caller that writes the payment
    with other rows in one statement (a new order: `order_write`)."""
    payment = Payment(
        order=order,
        method=method,
        token=token or "",
        amount=_money(amount, allow_zero=True),
        currency=currency.upper(),
        gateway=gateway,
    )
    if payment.is_cash:
        payment.reference = f"cod-{order.number or payment.uid}"
    return payment


def payment_authorize(*, payment_id: int) -> Payment:
    """pending → authorized | failed. Safe to repeat: a payment that has left
    `pending` is returned as is; cash on delivery has nothing to authorize and stays
    `pending`. Raises GatewayError on transient trouble, for the task to retry."""
    with transaction.atomic():
        payment = _lock(payment_id, with_order_number=True)
        if payment.status != PaymentStatus.PENDING or payment.is_cash:
            return payment
        key = f"{payment.uid}:authorize"
        call, needed = _claim(
            payment=payment, operation=GatewayOperation.AUTHORIZE, key=key, amount=payment.amount
        )
    gateway = get_gateway(payment.gateway)
    result = _perform(
        call,
        needed,
        lambda: gateway.authorize(
            amount=payment.amount,
            currency=payment.currency,
            token=payment.token,
            idempotency_key=key,
            metadata={"order": payment.order_number, "payment": str(payment.uid)},
        ),
    )
    release_hold = False
    with transaction.atomic():
        payment = _lock(payment_id)
        locked = field_values(payment)
        _complete(call, result)
        now = timezone.now()
        if payment.status == PaymentStatus.PENDING:
            if result.ok:
                payment.authorize(
                    amount=result.amount or payment.amount,
                    reference=result.reference,
                    risk_score=result.risk_score,
                    at=now,
                )
                if result.status == "captured":  # the gateway captured at once
                    payment.capture(amount=payment.amount_authorized, at=now)
            else:
                payment.fail(
                    decline_code=result.decline_code or result.status,
                    message=result.message or "The payment was declined.",
                )
            # Only what the transition changed, in one plain statement (the row is locked).
            write_together(updates=[([payment], changed_fields(payment, locked))])
        elif result.ok and payment.status == PaymentStatus.VOIDED:
            # Voided (order cancelled) while the gateway was authorizing: let the hold go.
            release_hold = True
    if release_hold:
        _release_orphan_authorization(payment, result)
    return payment


def _release_orphan_authorization(payment: Payment, result: GatewayResult) -> None:
    key = f"{payment.uid}:void"
    with transaction.atomic():
        locked = _lock(payment.pk)
        call, needed = _claim(
            payment=locked,
            operation=GatewayOperation.VOID,
            key=key,
            note="voided while authorizing",
        )
    gateway = get_gateway(payment.gateway)
    try:
        outcome = _perform(
            call, needed, lambda: gateway.void(reference=result.reference, idempotency_key=key)
        )
    except Exception:
        logger.exception("could not void the orphan authorization of payment %s", payment.pk)
        return
    with transaction.atomic():
        _complete(call, outcome)
    if not outcome.ok:
        logger.error("gateway refused to void orphan authorization of payment %s", payment.pk)
