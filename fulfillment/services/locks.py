"""Row locks, always taken in the same order: the order first, then its
shipments (then, inside inventory, reservations and stock levels). Every
writer of an order's shipments holds the order's lock, so over-shipping checks
and status moves see a stable picture."""

from __future__ import annotations

from core.errors import NotFound
from orders.models import Order
from orders.services.locking import order_lock

from ..models import Shipment


def shipment_lock(shipment_id: int) -> tuple[Order, Shipment]:
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound("No such shipment.")
    order = order_lock(order_id)
    shipment = Shipment.objects.select_for_update(of=("self",)).select_related("warehouse")
    return order, shipment.get(pk=shipment_id)
