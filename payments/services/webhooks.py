"""Applying the gateways' webhook events to payments, and telling the orders app."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..gateways import EventType, WebhookEvent
from ..models import GatewayOperation, Payment, PaymentStatus, PaymentWebhookEvent, Refund
from ..selectors import payment_pending_refunds
from .gateway_calls import _sum

# The orders task told about payments moved by a gateway webhook (see _notify_order).
ORDER_SYNC_TASK = "orders.tasks.order_sync_payment"


def payment_apply_webhook(*, gateway: str, event: WebhookEvent) -> Payment | None:
    """Move a payment as the gateway reports. Returns the payment it changed or
    looked at; None for an event seen before or about a payment we do not know.
    Amounts on events are cumulative, so late or repeated news cannot double-count."""
    with transaction.atomic():
        payment = None
        if event.reference:
            payment = (
                Payment.objects.select_for_update()
                .filter(gateway=gateway, reference=event.reference)
                .first()
            )
        seen, created = PaymentWebhookEvent.objects.get_or_create(
            gateway=gateway,
            event_id=event.id,
            defaults={
                "type": event.type[:64],
                "reference": event.reference[:255],
                "payment": payment,
                "payload": event.data,
            },
        )
        if not created:
            return None
        if payment is None:
            seen.outcome = "unknown_payment"
            seen.save(update_fields=["outcome"])
            return None
        seen.outcome = _apply_event(payment, event, gateway)
        seen.save(update_fields=["outcome"])
        if seen.outcome == "applied":
            _notify_order(payment.order_id)
        return payment


def _notify_order(order_id: int) -> None:
    """Tell the orders app, by task name (payments never imports orders), that its
    payment moved, e.g. so it can copy the status onto the order. Skipped while no
    such task is registered."""
    from celery import current_app

    name = getattr(settings, "PAYMENTS_ORDER_SYNC_TASK", ORDER_SYNC_TASK)
    task = current_app.tasks.get(name)
    if task is not None:
        task.delay_on_commit(order_id)


def _apply_event(payment: Payment, event: WebhookEvent, gateway: str) -> str:
    now = timezone.now()
    status = payment.status
    if event.type == EventType.AUTHORIZED and status == PaymentStatus.PENDING:
        amount = event.amount or payment.amount
        payment.authorize(amount=amount, reference=event.reference, risk_score=None, at=now)
    elif event.type == EventType.CAPTURED and event.amount is not None:
        if status == PaymentStatus.PENDING and not payment.is_cash:
            payment.authorize(
                amount=event.amount, reference=event.reference, risk_score=None, at=now
            )
        in_flight = _sum(payment.gateway_calls.filter(operation=GatewayOperation.CAPTURE, ok=None))
        missing = event.amount - payment.amount_captured - in_flight
        if missing <= 0 or payment.amount_captured + missing > payment.amount_authorized:
            return "ignored"
        payment.capture(amount=missing, at=now)
    elif event.type == EventType.FAILED and status == PaymentStatus.PENDING:
        payment.fail(decline_code="gateway_failed", message=f"Reported by {gateway}.")
    elif event.type == EventType.VOIDED and status in (
        PaymentStatus.PENDING,
        PaymentStatus.AUTHORIZED,
    ):
        payment.void(reason=f"reported by {gateway}")
    elif event.type == EventType.REFUNDED and event.amount is not None:
        known = payment.amount_refunded + payment_pending_refunds(payment)
        missing = event.amount - known
        if (
            missing <= 0
            or status
            not in (
                PaymentStatus.CAPTURED,
                PaymentStatus.PARTIALLY_REFUNDED,
            )
            or known + missing > payment.amount_captured
        ):
            return "ignored"
        # Refunded outside Orderly (the gateway's dashboard): record it.
        refund = Refund(
            payment=payment,
            amount=missing,
            currency=payment.currency,
            reason="refunded at the gateway",
            source=f"gateway:{gateway}",
            idempotency_key=f"webhook:{gateway}:{event.id}",
        )
        refund.succeed(reference="", at=now)
        refund.save()
        payment.refund(amount=missing)
    else:
        return "ignored"
    payment.save()
    return "applied"
