"""Order-side steps of fulfillment: the order's status, its lines' shipped
counts, the audit trail, the customer's notifications and cash collected on
delivery.

The fulfillment app calls these (inside its own transaction, holding the
order's row lock via `order_lock`); orders never imports fulfillment.
Shipments are reached only through the reverse relation `order.shipments`."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError, TransitionNotAllowed
from operations.services import timing_record
from payments.services import payment_capture

from ..models import Order, OrderLine, OrderStatus
from .cancelling import SHIPMENTS_GONE
from .events import order_event_record
from .locking import order_lock
from .notify import order_notify
from .payment_status import order_sync_payment_status

# Shipments in these states hold goods that left (or are leaving) the warehouse.
SHIPMENT_OUT_STATES = SHIPMENTS_GONE


class OverShipment(DomainError):
    code = "OVER_SHIPMENT"
    http_status = 409
    default_message = "More units would be shipped than were ordered."


@transaction.atomic
def order_start_processing(*, order_id: int, actor, reason: str = "") -> Order:
    """confirmed → processing when work on the first shipment starts. Orders
    already past that are returned unchanged."""
    order = order_lock(order_id)
    if order.status != OrderStatus.CONFIRMED:
        return order
    order.start_processing()
    order.save()
    order_event_record(
        order=order,
        from_status=OrderStatus.CONFIRMED,
        to_status=order.status,
        actor=actor,
        reason=reason or "fulfilment started",
    )
    return order


@transaction.atomic
def order_record_shipped(
    *,
    order_id: int,
    quantities: dict[int, int],
    actor,
    reason: str = "",
    shipment: str = "",
    notify_extra: dict | None = None,
) -> Order:
    """Units of these lines ({order line id: units}) have left a warehouse in
    `shipment`: count them on the lines, move the order to partially_shipped or
    shipped (an audit row only when the status changes) and tell the customer
    (once per shipment). Not idempotent by itself: the caller marks the
    shipment in the same transaction."""
    order = order_lock(order_id)
    if order.status not in (
        OrderStatus.CONFIRMED,
        OrderStatus.PROCESSING,
        OrderStatus.PARTIALLY_SHIPPED,
    ):
        raise TransitionNotAllowed(f"Order {order.number} is {order.status}; nothing can ship.")
    lines = list(OrderLine.objects.select_for_update().filter(order=order).order_by("pk"))
    for line in lines:
        line.quantity_shipped += quantities.get(line.pk, 0)
        if line.quantity_shipped + line.quantity_cancelled > line.quantity:
            raise OverShipment(
                f"{line.sku}: {line.quantity_shipped} would ship of {line.quantity} ordered."
            )
    if set(quantities) - {line.pk for line in lines}:
        raise TransitionNotAllowed(f"Those lines are not part of order {order.number}.")
    OrderLine.objects.bulk_update(lines, ["quantity_shipped"])
    from_status = order.status
    now = timezone.now()
    if all(line.quantity_shipped + line.quantity_cancelled == line.quantity for line in lines):
        order.ship_fully(at=now)
    elif from_status != OrderStatus.PARTIALLY_SHIPPED:
        order.ship_partially(at=now)
    order.save()
    if from_status in (OrderStatus.CONFIRMED, OrderStatus.PROCESSING) and order.confirmed_at:
        timing_record(
            order_id=order.pk, step="fulfilment_lead_time", milliseconds=now - order.confirmed_at
        )
    if order.status != from_status:
        order_event_record(
            order=order,
            from_status=from_status,
            to_status=order.status,
            actor=actor,
            reason=reason or "shipped",
        )
    order_notify(order=order, event="shipped", extra=notify_extra, dedupe_suffix=shipment)
    return order


@transaction.atomic
def order_record_delivered(*, order_id: int, actor, reason: str = "") -> Order:
    """shipped → delivered, once the caller knows every shipment arrived.
    Returns the order unchanged when it is not `shipped` (e.g. already
    delivered, or still partially shipped)."""
    order = order_lock(order_id)
    if order.status != OrderStatus.SHIPPED:
        return order
    order.deliver(at=timezone.now())
    order.save()
    order_event_record(
        order=order,
        from_status=OrderStatus.SHIPPED,
        to_status=order.status,
        actor=actor,
        reason=reason or "delivered",
    )
    order_notify(order=order, event="delivered")
    return order


def order_collect_cod(*, order_id: int) -> Order:
    """Cash on delivery: the full total is captured (recorded as collected)
    once the order is delivered. Safe to repeat: an order whose payment holds
    the whole amount already is left alone, and the fixed idempotency key makes
    a retried capture count once. Runs with no transaction open (payments
    refuses gateway calls inside one)."""
    order = Order.objects.select_related("payment").get(pk=order_id)
    payment = getattr(order, "payment", None)
    if payment is None or not payment.is_cash or order.delivered_at is None:
        return order
    outstanding = payment.amount - payment.amount_captured
    if outstanding > 0:
        payment_capture(
            payment_id=payment.pk,
            amount=outstanding,
            actor=None,
            idempotency_key=f"cod-delivery-{order.number}",
        )
    return order_sync_payment_status(order_id=order_id)


def order_has_shipments_out(order: Order) -> bool:
    """True once any shipment of the order has left the warehouse, even before
    the ship worker counted its units on the lines. `order_cancel` should
    refuse then (the goods are gone)."""
    return order.shipments.filter(status__in=SHIPMENT_OUT_STATES).exists()
