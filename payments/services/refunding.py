"""Refunding captured money: never more than captured − refunded − refunds still
pending; a pending Refund holds its share while the gateway is asked."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from core.errors import detail

from ..errors import IdempotencyKeyReused, RefundExceedsCaptured, TransitionNotAllowed
from ..gateways import get_gateway
from ..models import GatewayOperation, Payment, Refund, RefundStatus
from ..selectors import REFUNDABLE_STATUSES, payment_refundable_amount
from .capturing import _enqueue_documents
from .gateway_calls import _caller_key, _claim, _complete, _lock, _money, _perform


def payment_refund(
    *,
    payment_id: int,
    amount: Decimal,
    reason: str,
    actor,
    idempotency_key: str,
    source: str = "",
) -> Refund:
    """Refund part or all of what was captured. Never more than captured − refunded −
    refunds still pending, even when called concurrently. The same key twice gives the
    same Refund and one gateway call. A refund the gateway refuses ends `failed` (and
    frees its share); a transient error leaves it `pending` and raises GatewayError."""
    amount = _money(amount)
    idempotency_key = _caller_key(idempotency_key)
    with transaction.atomic():
        payment = _lock(payment_id)
        refund = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if refund is not None:
            if refund.payment_id != payment.pk or refund.amount != amount:
                raise IdempotencyKeyReused("This idempotency key was used for a different refund.")
            if refund.status != RefundStatus.PENDING:
                return refund
        else:
            _check_refund(payment, amount)
            refund = Refund.objects.create(
                payment=payment,
                amount=amount,
                currency=payment.currency,
                reason=reason[:255],
                source=source[:100],
                actor=actor if getattr(actor, "pk", None) else None,
                idempotency_key=idempotency_key,
            )
        key = f"{payment.uid}:refund:{idempotency_key}"
        call, needed = _claim(
            payment=payment,
            operation=GatewayOperation.REFUND,
            key=key,
            amount=amount,
            actor=actor,
            note=reason,
        )
    gateway = get_gateway(payment.gateway)
    result = _perform(
        call,
        needed,
        lambda: gateway.refund(
            reference=payment.reference,
            amount=amount,
            currency=payment.currency,
            idempotency_key=key,
        ),
    )
    with transaction.atomic():
        payment = _lock(payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        _complete(call, result)
        if refund.status == RefundStatus.PENDING:
            now = timezone.now()
            if result.ok:
                refund.succeed(reference=result.reference, at=now)
                payment.refund(amount=refund.amount)
                payment.save()
                _enqueue_documents(payment.pk)
            else:
                refund.fail(message=result.message or result.decline_code or "refused", at=now)
            refund.save()
    return refund


def _check_refund(payment: Payment, amount: Decimal) -> None:
    if payment.status not in REFUNDABLE_STATUSES:
        raise TransitionNotAllowed(f"A {payment.status} payment has nothing captured to refund.")
    available = payment_refundable_amount(payment)
    if amount > available:
        raise RefundExceedsCaptured(
            f"At most {available} {payment.currency} can be refunded.",
            details=[detail("amount", "REFUND_EXCEEDS_CAPTURED", f"At most {available}.")],
        )
