"""Delivery, order side: the order is delivered once its last shipment is."""

from __future__ import annotations

from orders.models import Order, OrderStatus
from orders.services.fulfillment import order_record_delivered

from ..models import S


def order_deliver_if_complete(*, order: Order, actor) -> Order:
    """Inside the order's lock: once the order is fully shipped and every
    shipment that is not cancelled has been delivered, the order is delivered;
    cash on delivery is then collected by a worker after commit."""
    if order.status != OrderStatus.SHIPPED:
        return order
    if order.shipments.exclude(status__in=[S.DELIVERED, S.CANCELLED]).exists():
        return order
    order = order_record_delivered(order_id=order.pk, actor=actor, reason="all shipments delivered")
    if order.payment_method == "cod":
        from ..tasks import order_collect_cod  # tasks import services

        order_collect_cod.delay_on_commit(order.pk)
    return order
