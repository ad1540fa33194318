"""Staff actions on a shipment (API and admin alike): pack, ship, deliver,
cancel. Each locks the order then the shipment, checks the transition, records
who did it (`<action>_by`), saves, and leaves slow work to a worker enqueued on
commit."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from core.errors import TransitionNotAllowed, ValidationFailed, detail
from orders.models import SHIPPABLE, Order
from orders.services.holds import hold_guard_shipment, holds_release_for_shipment
from payments.models import Payment

from ..carriers import carrier_names
from ..models import Shipment
from .delivering import order_deliver_if_complete
from .locks import shipment_lock


def _user(actor):
    # The shipment records a staff user; anyone else (a worker, a carrier) is the system.
    return actor if getattr(actor, "pk", None) else None


def _refuse(shipment: Shipment, action: str, allowed: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(
        f"Shipment {shipment.number} is {shipment.status}; only {allowed} shipments can be {action}."
    )


def _check_order_open(order: Order, shipment: Shipment) -> None:
    # The order may have been cancelled after this shipment was created.
    if order.status not in SHIPPABLE:
        raise TransitionNotAllowed(
            f"Order {order.number} is {order.status}; shipment {shipment.number} cannot go out."
        )


def _check_payment_covers(order: Order, shipment: Shipment) -> None:
    # A payment voided or failed at the gateway after confirmation (an expired
    # hold, a void from its dashboard) would let the goods leave unpaid.
    payment = Payment.objects.filter(order=order).first()
    if payment is not None and not payment.covers_shipping:
        raise TransitionNotAllowed(
            f"Order {order.number}'s payment is {payment.status}: shipment {shipment.number} "
            "cannot go out unpaid. Ask the customer to pay again, or cancel the shipment."
        )


@transaction.atomic
def shipment_pack(*, shipment: Shipment, actor) -> Shipment:
    order, shipment = shipment_lock(shipment.pk)
    if not can_proceed(shipment.pack):
        raise _refuse(shipment, "packed", "pending")
    hold_guard_shipment(shipment=shipment)
    _check_order_open(order, shipment)
    shipment.pack(at=timezone.now())
    shipment.packed_by = _user(actor)
    shipment.save()
    return shipment


@transaction.atomic
def shipment_ship(*, shipment: Shipment, carrier: str, tracking_number: str, actor) -> Shipment:
    """Hand the parcel to the carrier. The ship step (`shipping`, enqueued on commit)
    moves the stock, updates the order, notifies and captures the payment."""
    order, shipment = shipment_lock(shipment.pk)
    if not can_proceed(shipment.ship):
        raise _refuse(shipment, "shipped", "pending or packed")
    hold_guard_shipment(shipment=shipment)
    _check_order_open(order, shipment)
    _check_payment_covers(order, shipment)
    carrier = carrier.strip()
    tracking_number = tracking_number.strip()
    details = []
    if carrier not in carrier_names():
        details.append(
            detail(
                "carrier",
                "CARRIER_NOT_FOUND",
                f"No carrier {carrier!r}; use one of {', '.join(carrier_names())}.",
            )
        )
    if not tracking_number:
        details.append(detail("tracking_number", "REQUIRED", "A tracking number is required."))
    elif (
        Shipment.objects.filter(carrier=carrier, tracking_number=tracking_number)
        .exclude(pk=shipment.pk)
        .exists()
    ):
        details.append(
            detail(
                "tracking_number",
                "TRACKING_NUMBER_TAKEN",
                f"{carrier} {tracking_number} belongs to another shipment.",
            )
        )
    if details:
        raise ValidationFailed("The shipment could not be shipped.", details=details)
    shipment.ship(carrier=carrier, tracking_number=tracking_number, at=timezone.now())
    shipment.shipped_by = _user(actor)
    if shipment.packed_by is None and shipment.packed_at == shipment.shipped_at:
        shipment.packed_by = shipment.shipped_by  # shipped straight from pending
    shipment.save()

    from ..tasks import shipment_shipped  # tasks import services

    shipment_shipped.delay_on_commit(shipment.pk)
    return shipment


@transaction.atomic
def shipment_deliver(*, shipment: Shipment, actor, at=None) -> Shipment:
    """Staff confirm delivery (the manual carrier, or a carrier that went
    quiet). Delivering the order's last shipment delivers the order."""
    order, shipment = shipment_lock(shipment.pk)
    if not can_proceed(shipment.deliver):
        raise _refuse(shipment, "delivered", "shipped, in transit or exception")
    shipment_mark_delivered(order=order, shipment=shipment, actor=actor, at=at)
    return shipment


def shipment_mark_delivered(*, order: Order, shipment: Shipment, actor, at=None) -> None:
    """Inside the order's and shipment's locks (staff action or carrier event)."""
    shipment.deliver(at=at or timezone.now())
    shipment.delivered_by = _user(actor)
    shipment.save()
    order_deliver_if_complete(order=order, actor=actor)


@transaction.atomic
def shipment_cancel(*, shipment: Shipment, actor, reason: str = "") -> Shipment:
    """Drop a shipment that has not left: its units may go into another one.
    The order's reservations stay (the order itself is not cancelled)."""
    order, shipment = shipment_lock(shipment.pk)
    if not can_proceed(shipment.cancel):
        raise _refuse(shipment, "cancelled", "pending or packed")
    shipment.cancel(reason=reason or "cancelled", at=timezone.now())
    shipment.cancelled_by = _user(actor)
    shipment.save()
    holds_release_for_shipment(
        order=order, shipment=shipment, actor=actor, note=f"shipment {shipment.number} cancelled"
    )
    return shipment


@transaction.atomic
def shipments_cancel_for_cancelled_order(*, order_id: int) -> int:
    """The order was cancelled before anything left: drop its pending and
    packed shipments so nobody picks for it. Idempotent."""
    order = Order.objects.filter(pk=order_id, status="cancelled").first()
    if order is None:
        return 0
    open_ids = list(
        Shipment.objects.filter(order_id=order_id, status__in=["pending", "packed"]).values_list(
            "pk", flat=True
        )
    )
    for shipment_id in open_ids:
        shipment_cancel(shipment=Shipment(pk=shipment_id), actor=None, reason="order cancelled")
    return len(open_ids)
