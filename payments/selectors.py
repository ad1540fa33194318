"""Payment reads other apps act on."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from .models import GatewayCall, GatewayOperation, Payment, PaymentStatus, RefundStatus

ZERO = Decimal("0.00")
REFUNDABLE_STATUSES = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)


def payment_pending_refunds(payment: Payment) -> Decimal:
    """Refunds asked of the gateway and not answered yet."""
    pending = payment.refunds.filter(status=RefundStatus.PENDING).aggregate(s=Sum("amount"))["s"]
    return pending or ZERO


def payment_refundable_amount(payment: Payment | None) -> Decimal:
    """The refund ceiling, the one place it is worked out: captured minus
    refunded minus refunds still waiting for the gateway (0.00 when nothing is
    captured), so concurrent refunds cannot overshoot."""
    if payment is None or payment.status not in REFUNDABLE_STATUSES:
        return ZERO
    return max(
        payment.amount_captured - payment.amount_refunded - payment_pending_refunds(payment), ZERO
    )


def payment_has_pending_refunds(payment: Payment) -> bool:
    return payment.refunds.filter(status=RefundStatus.PENDING).exists()


def payment_authorization_in_doubt(payment: Payment) -> bool:
    """An authorize call went out but its answer never came back: the card may
    carry a hold we don't know about yet."""
    return GatewayCall.objects.filter(
        payment=payment, operation=GatewayOperation.AUTHORIZE, ok__isnull=True
    ).exists()
