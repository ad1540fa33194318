"""What the customer and integrators hear about an order. Called by order
services after a change; the messages themselves are queued on commit by the
notifications app, which retries them on its own."""

from __future__ import annotations

import logging

from django.db import transaction

from core.errors import DomainError

from ..models import Order

logger = logging.getLogger(__name__)

# event → (email template, outbound webhook event)
EVENTS = {
    "confirmed": ("order_confirmed", "order.confirmed"),
    "on_hold": ("order_on_hold", "order.on_hold"),
    "cancelled": ("order_cancelled", "order.cancelled"),
    "shipped": ("order_shipped", "order.shipped"),
    "delivered": ("order_delivered", "order.delivered"),
    "refunded": ("refund_issued", "order.refunded"),
    "returned": ("return_update", "order.return_updated"),
    "updated": ("order_updated", "order.updated"),  # an order edit was committed
}


def order_context(order: Order) -> dict:
    address = order.shipping_address or {}
    return {
        "order_number": order.number,
        "customer_name": address.get("name") or order.customer.get_username(),
        "status": order.status,
        "currency": order.currency,
        "total": f"{order.total:.2f}",
        "items": [
            {"sku": line.sku, "name": line.name, "quantity": line.quantity}
            for line in order.lines.all()
        ],
    }


def order_notify(
    *, order: Order, event: str, extra: dict | None = None, dedupe_suffix: str = ""
) -> None:
    """Queue the customer's email (and SMS when we have a phone for a
    shipment) and the integrators' webhook for `event`. Idempotent per order,
    event and suffix, so a retried service never notifies twice. A message
    that cannot be queued is logged, never allowed to undo the order change."""
    try:
        with transaction.atomic():  # a savepoint: a failure here rolls back only this
            _queue(order=order, event=event, extra=extra, dedupe_suffix=dedupe_suffix)
    except DomainError as exc:
        logger.error("could not queue %s notification for %s: %s", event, order.number, exc.message)


def _queue(*, order: Order, event: str, extra: dict | None, dedupe_suffix: str) -> None:
    from notifications.services import notification_queue, webhook_publish

    template, webhook_event = EVENTS[event]
    context = {**order_context(order), **(extra or {})}
    key = f"{order.number}:{event}{':' + dedupe_suffix if dedupe_suffix else ''}"
    # Marketplace buyers are the channel's customers (often relay addresses the
    # channel forbids us to mail): integrators still get the webhook.
    direct_customer = order.source != "channel"
    if direct_customer and order.customer.email:
        notification_queue(
            recipient=order.customer.email,
            channel="email",
            template=template,
            context=context,
            reference=order.number,
            dedupe_key=f"email:{key}",
        )
    phone = (order.shipping_address or {}).get("phone")
    if direct_customer and phone and event in ("shipped", "delivered"):
        notification_queue(
            recipient=phone,
            channel="sms",
            template=template,
            context=context,
            reference=order.number,
            dedupe_key=f"sms:{key}",
        )
    webhook_publish(event=webhook_event, payload=context, dedupe_key=key)
