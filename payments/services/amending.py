"""Changing what an order costs after it was placed (an order edit): the payment's
amount follows the order's new total, within what the gateway already holds."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from core.errors import TransitionNotAllowed, detail

from ..models import GatewayCall, GatewayOperation, Payment, PaymentStatus
from .gateway_calls import _lock, _money


@transaction.atomic
def payment_amount_change(*, payment_id: int, amount: Decimal, actor, reason: str) -> Payment:
    """Set what the payment will take to `amount`; talks to no gateway, so it runs
    inside the caller's transaction (the order edit's commit).

    - pending (nothing authorized yet, or cash on delivery): the new amount is what
      will be authorized or collected; refused (409 PAYMENT_IN_PROGRESS) while an
      authorization is at the gateway, rather than racing it;
    - authorized, nothing captured: a lower amount releases the difference from what
      will be captured (a partial void: the rest of the hold lapses unused); a higher
      one would need an extra authorization, which none of our gateway adapters can
      make, so it is refused (409 REAUTHORIZATION_NOT_SUPPORTED);
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
                "authorized, and the payment gateway cannot authorize the difference. "
                "Cancel the order and place a new one instead.",
            )
        payment.void_reason = f"partial void: {payment.amount_authorized - amount} ({reason})"[:255]
    else:
        raise _refused(
            "PAYMENT_NOT_ADJUSTABLE", f"A {payment.status} payment's amount cannot change."
        )
    payment.amount = amount
    payment.save(update_fields=["amount", "void_reason", "updated_at"])
    return payment


def _refused(code: str, message: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(message, details=[detail("payment", code, message)])
