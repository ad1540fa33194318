"""Payment reads other apps act on."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from .models import GatewayCall, GatewayOperation, Payment, RefundStatus


def payment_refundable_amount(payment: Payment) -> Decimal:
    """Captured minus refunded minus refunds still waiting for the gateway."""
    pending = payment.refunds.filter(status=RefundStatus.PENDING).aggregate(s=Sum("amount"))["s"]
    return payment.amount_captured - payment.amount_refunded - (pending or Decimal("0"))


def payment_has_pending_refunds(payment: Payment) -> bool:
    return payment.refunds.filter(status=RefundStatus.PENDING).exists()


def payment_authorization_in_doubt(payment: Payment) -> bool:
    """An authorize call went out but its answer never came back: the card may
    carry a hold we don't know about yet."""
    return GatewayCall.objects.filter(
        payment=payment, operation=GatewayOperation.AUTHORIZE, ok__isnull=True
    ).exists()
