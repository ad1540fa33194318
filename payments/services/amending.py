"""Changing what an order costs after it was placed (an order edit): the payment's
amount follows the order's new total, within what the gateway holds; a card
authorization can first be raised at the gateway (`payment_authorization_raise`)
where the gateway allows it."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from core.errors import ServiceUnavailable, TransitionNotAllowed, detail

from ..errors import OperationInProgress
from ..gateways import GatewayError, get_gateway
from ..models import GatewayCall, GatewayOperation, Payment, PaymentStatus
from .gateway_calls import _caller_key, _claim, _complete, _lock, _money, _perform


@transaction.atomic
def payment_amount_change(*, payment_id: int, amount: Decimal, actor, reason: str) -> Payment:
    """Set what the payment will take to `amount`; talks to no gateway, so it runs
    inside the caller's transaction (the order edit's commit).

    - pending (nothing authorized yet, or cash on delivery): the new amount is what
      will be authorized or collected; refused (409 PAYMENT_IN_PROGRESS) while an
      authorization is at the gateway, rather than racing it;
    - authorized, nothing captured: a lower amount releases the difference from what
      will be captured (a partial void: the rest of the hold lapses unused); a higher
      one must fit the authorization, raised beforehand with
      `payment_authorization_raise`, or it is refused (409
      REAUTHORIZATION_NOT_SUPPORTED);
    - anything else (captured, voided, failed, refunded): 409 PAYMENT_NOT_ADJUSTABLE.
    """
    amount = _money(amount, allow_zero=True)
    payment = _lock(payment_id)
    if amount == payment.amount:
        return payment
    if payment.status == PaymentStatus.PENDING:
        in_flight = GatewayCall.objects.filter(
            payment=payment, operation=GatewayOperation.AUTHORIZE, completed_at__isnull=True
        ).exists()
        if in_flight:
            raise _refused(
                "PAYMENT_IN_PROGRESS",
                "The payment is being authorized right now; try again in a moment.",
            )
    elif payment.status == PaymentStatus.AUTHORIZED and payment.amount_captured == 0:
        if amount > payment.amount_authorized:
            raise _refused(
                "REAUTHORIZATION_NOT_SUPPORTED",
                f"The new total {amount} is more than the {payment.amount_authorized} "
                "authorized. Cancel the order and place a new one instead.",
            )
        payment.void_reason = f"partial void: {payment.amount_authorized - amount} ({reason})"[:255]
    else:
        raise _refused(
            "PAYMENT_NOT_ADJUSTABLE", f"A {payment.status} payment's amount cannot change."
        )
    payment.amount = amount
    payment.save(update_fields=["amount", "void_reason", "updated_at"])
    return payment


def payment_authorization_raise(
    *, payment_id: int, amount: Decimal, idempotency_key: str, actor=None
) -> Payment:
    """Raise an authorized, uncaptured card payment's hold to `amount` (the new
    total) at the gateway, for an order edit that costs more; call it before the
    edit's transaction, as it talks to the gateway. Nothing to do (a pending or
    cash payment, or a hold already as large) returns the payment unchanged.
    Same key and amount: the stored answer, never a second call.

    Refused with 409 TRANSITION_NOT_ALLOWED: REAUTHORIZATION_NOT_SUPPORTED (the
    gateway cannot raise a hold, or the card declined the increase: the old hold
    stays) or PAYMENT_NOT_ADJUSTABLE (captured, voided, failed)."""
    amount = _money(amount)
    with transaction.atomic():
        payment = _lock(payment_id)
        if payment.status == PaymentStatus.PENDING or payment.is_cash:
            return payment  # authorized (or collected) at the new amount later
        if payment.status != PaymentStatus.AUTHORIZED or payment.amount_captured > 0:
            raise _refused(
                "PAYMENT_NOT_ADJUSTABLE", f"A {payment.status} payment's amount cannot change."
            )
        if amount <= payment.amount_authorized:
            return payment
        gateway = get_gateway(payment.gateway)
        if not gateway.supports_incremental_authorization:
            raise _refused(
                "REAUTHORIZATION_NOT_SUPPORTED",
                f"The new total {amount} is more than the {payment.amount_authorized} "
                f"authorized, and {payment.gateway} cannot raise an authorization. "
                "Cancel the order and place a new one instead.",
            )
        key = f"{payment.uid}:increment:{_caller_key(idempotency_key)}"
        try:
            call, needed = _claim(
                payment=payment,
                operation=GatewayOperation.INCREMENT,
                key=key,
                amount=amount,
                actor=actor,
                note=f"raise the authorization to {amount}",
            )
        except OperationInProgress:
            raise _refused(
                "PAYMENT_IN_PROGRESS",
                "The authorization is being raised right now; try again in a moment.",
            ) from None
    try:
        result = _perform(
            call,
            needed,
            lambda: gateway.increment_authorization(
                reference=payment.reference,
                amount=amount,
                currency=payment.currency,
                idempotency_key=key,
            ),
        )
    except GatewayError as exc:
        # Called from a request: a timeout is the caller's 503, not a crash. The
        # call row keeps the error; the same key asks again next time.
        raise ServiceUnavailable(
            "The payment gateway did not answer; the order is unchanged. Try again shortly."
        ) from exc
    with transaction.atomic():
        payment = _lock(payment_id)
        _complete(call, result)
        if result.ok and payment.status == PaymentStatus.AUTHORIZED:
            payment.amount_authorized = max(payment.amount_authorized, result.amount or amount)
            payment.save(update_fields=["amount_authorized", "updated_at"])
    if not result.ok:
        raise _refused(
            "REAUTHORIZATION_NOT_SUPPORTED",
            f"The card did not allow {amount} {payment.currency}: "
            f"{result.message or result.decline_code or 'declined'}. The order is unchanged.",
        )
    return payment


def _refused(code: str, message: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(message, details=[detail("payment", code, message)])
