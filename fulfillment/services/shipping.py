"""The ship step: what happens once a shipment has left the warehouse, in the
order it happens.

    1. stock moved off hand, and the order's shipped counts and status
    2. this shipment's share of the payment fixed
    3. that share captured at the gateway
    4. the payment's status mirrored on the order

Each stage runs once however often the task is delivered, guarded by a marker
on the shipment: `stock_moved_at` (1), `capture_amount` (2), `captured_at` (3).
The order-side writes are orders' services, each called once from here. The
gateway call (3) runs with no transaction open, never holding the order's lock."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.errors import DomainError
from inventory.services import ShipRequest, stock_ship
from operations.services import error_record
from orders.models import Order
from orders.services.fulfillment import order_record_shipped
from orders.services.payment_status import order_sync_payment_status
from payments.gateways.base import GatewayError
from payments.models import Payment
from payments.services import payment_capture

from ..carriers import tracking_url
from ..models import LEFT_WAREHOUSE, Shipment, ShipmentLine
from .capture import ZERO, CapturePlan, plan_capture
from .delivering import order_deliver_if_complete
from .locks import shipment_lock

logger = logging.getLogger(__name__)


def shipment_process_shipped(*, shipment_id: int) -> Shipment:
    """Run the ship step for a shipment that left the warehouse. The actor is
    whoever shipped it (`shipped_by`). Raises GatewayError on transient gateway
    trouble (the task retries); a definitive refusal is kept in `capture_error`
    for ops."""
    shipment = Shipment.objects.get(pk=shipment_id)
    if shipment.status not in LEFT_WAREHOUSE:
        return shipment
    if shipment.stock_moved_at is None:
        shipment = _move_stock_and_record_shipped(shipment_id)
    if shipment.capture_amount is None:
        shipment = _fix_capture_share(shipment_id)
    if shipment.capture_amount and shipment.captured_at is None and not shipment.capture_error:
        _capture_share(shipment)
        order_sync_payment_status(order_id=shipment.order_id)
        shipment.refresh_from_db()
    return shipment


def shipment_retry_capture(*, shipment: Shipment, actor) -> Shipment:
    """Ops cleared the cause of a refused capture (admin action): try again."""
    Shipment.objects.filter(pk=shipment.pk, captured_at__isnull=True).update(capture_error="")
    return shipment_process_shipped(shipment_id=shipment.pk)


# 1. Stock and the order move together: one transaction, one marker.
@transaction.atomic
def _move_stock_and_record_shipped(shipment_id: int) -> Shipment:
    order, shipment = shipment_lock(shipment_id)
    if shipment.status not in LEFT_WAREHOUSE or shipment.stock_moved_at is not None:
        return shipment
    lines = list(shipment.lines.select_related("order_line"))
    reason = f"shipment {shipment.number}"
    stock_ship(
        warehouse_id=shipment.warehouse_id,
        requests=[ShipRequest(line.order_line_id, line.quantity) for line in lines],
        reason=reason,
        reference=order.number,
    )
    order = order_record_shipped(
        order_id=order.pk,
        quantities={line.order_line_id: line.quantity for line in lines},
        actor=shipment.shipped_by,
        reason=f"{reason} shipped with {shipment.carrier} {shipment.tracking_number}",
        shipment=shipment.number,
        notify_extra={
            "shipment": shipment.number,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "tracking_url": tracking_url(shipment.carrier, shipment.tracking_number),
            "shipment_items": [
                {"sku": line.order_line.sku, "quantity": line.quantity} for line in lines
            ],
        },
    )
    shipment.stock_moved_at = timezone.now()
    shipment.save(update_fields=["stock_moved_at", "updated_at"])
    # A carrier may have reported delivery before this worker ran.
    order_deliver_if_complete(order=order, actor=None)
    return shipment


# 2. The share is fixed under the order's lock, so concurrent shipments of one
# order plan one after the other and their shares add up to the total.
@transaction.atomic
def _fix_capture_share(shipment_id: int) -> Shipment:
    order, shipment = shipment_lock(shipment_id)
    if shipment.capture_amount is not None:
        return shipment
    plan = _plan(order, shipment, list(shipment.lines.select_related("order_line")))
    shipment.capture_amount = plan.amount
    shipment.capture_error = plan.note
    shipment.save(update_fields=["capture_amount", "capture_error", "updated_at"])
    return shipment


def _goods_value(lines, *, by_units: bool) -> Decimal:
    return sum(
        (Decimal(line.quantity) if by_units else line.order_line.unit_price * line.quantity)
        for line in lines
    ) or Decimal(0)


def _plan(order: Order, shipment: Shipment, lines: list[ShipmentLine]) -> CapturePlan:
    payment = Payment.objects.filter(order_id=order.pk).first()
    if payment is None:  # nothing to charge: a replacement order from an exchange
        return CapturePlan(ZERO, note="no payment: nothing to capture")
    order_lines = list(order.lines.all())
    subtotal = sum((line.line_total for line in order_lines), Decimal(0))
    by_units = subtotal <= 0  # free goods: spread the (shipping) total by units instead
    if by_units:
        subtotal = Decimal(sum(line.quantity for line in order_lines))
    others = list(
        Shipment.objects.filter(order=order, capture_amount__isnull=False).exclude(pk=shipment.pk)
    )
    other_lines = ShipmentLine.objects.filter(shipment__in=others).select_related("order_line")
    return plan_capture(
        payment=payment,
        total=order.total,
        shipping=order.shipping,
        subtotal=subtotal,
        value=_goods_value(lines, by_units=by_units),
        prior_value=_goods_value(other_lines, by_units=by_units),
        prior_planned=sum((s.capture_amount for s in others), ZERO),
        prior_count=len(others),
        captured_by_shipments=Shipment.objects.filter(
            order=order, captured_at__isnull=False
        ).aggregate(total=Sum("capture_amount"))["total"]
        or ZERO,
    )


# 3. No transaction open: payments calls the gateway between its own.
def _capture_share(shipment: Shipment) -> None:
    payment_id = Payment.objects.values_list("pk", flat=True).get(order_id=shipment.order_id)
    try:
        payment_capture(
            payment_id=payment_id,
            amount=shipment.capture_amount,
            actor=shipment.shipped_by,
            idempotency_key=f"shipment-{shipment.number}",
        )
    except GatewayError:
        raise
    except DomainError as exc:
        logger.error("shipment %s: capture refused: %s", shipment.number, exc.message)
        error_record(
            category="payment",
            step="shipment_capture",
            order_id=shipment.order_id,
            reference=shipment.number,
            message=exc.message,
            details={"code": exc.code},
        )
        Shipment.objects.filter(pk=shipment.pk).update(
            capture_error=exc.message[:500], updated_at=timezone.now()
        )
    else:
        Shipment.objects.filter(pk=shipment.pk).update(
            captured_at=timezone.now(), capture_error="", updated_at=timezone.now()
        )
