from __future__ import annotations

from celery import current_app
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from core.errors import TransitionNotAllowed
from inventory.services import stock_release

from ..models import Order
from .events import order_event_record
from .holds import holds_release_all
from .locking import order_lock
from .notify import order_notify
from .promos import promo_return_use

# A shipment in these states has left the warehouse: too late to cancel.
SHIPMENTS_GONE = ("shipped", "in_transit", "delivered", "exception")


@transaction.atomic
def order_cancel(*, order: Order, actor, reason: str) -> Order:
    """Cancel while nothing has shipped: stock goes back, the promo use is
    returned, and the payment is voided or refunded by a worker on commit."""
    order = order_lock(order.pk)
    shipped = any(line.quantity_shipped for line in order.lines.all())
    if shipped or not can_proceed(order.cancel):
        raise TransitionNotAllowed(
            f"Order {order.number} is {order.status} and cannot be cancelled."
        )
    if order.shipments.filter(status__in=SHIPMENTS_GONE).exists():
        raise TransitionNotAllowed(f"Order {order.number} has a shipment on its way.")
    holds_release_all(order=order, actor=actor, note=reason, move_on=False)  # the order ends
    from_status = order.status
    order.cancel(reason=reason or "cancelled", at=timezone.now())
    order.save()
    order_event_record(
        order=order, from_status=from_status, to_status=order.status, actor=actor, reason=reason
    )
    stock_release(
        order_line_ids=[line.pk for line in order.lines.all()],
        actor=actor if getattr(actor, "pk", None) else None,
        reason=f"order cancelled: {reason}"[:255],
        reference=order.number,
    )
    promo_return_use(order=order)
    order_notify(order=order, event="cancelled", extra={"reason": order.cancel_reason})
    _enqueue_payment_settlement(order)
    if order.shipments.filter(status__in=["pending", "packed"]).exists():
        # Fulfilment builds on orders, so it is told by task name, on commit.
        current_app.tasks["fulfillment.tasks.cancel_shipments_of_cancelled_order"].delay_on_commit(
            order.pk
        )
    return order


def _enqueue_payment_settlement(order: Order) -> None:
    from ..tasks import order_settle_cancelled_payment

    order_settle_cancelled_payment.delay_on_commit(order.pk)
