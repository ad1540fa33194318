"""Locks and the audit row shared by every return service."""

from __future__ import annotations

from core.errors import TransitionNotAllowed
from orders.models import Order
from orders.services.events import actor_label
from orders.services.locking import order_lock

from ..models import ReturnEvent, ReturnRequest


def return_lock(return_id: int) -> tuple[Order, ReturnRequest]:
    """Lock the order, then the return: every return service takes the two in
    this order, so they serialize per order (quantities, shipping refunded
    once) and never deadlock against each other."""
    order_id = ReturnRequest.objects.values_list("order_id", flat=True).get(pk=return_id)
    order = order_lock(order_id)
    rr = ReturnRequest.objects.select_for_update(of=("self",)).get(pk=return_id)
    rr.order = order
    return order, rr


def return_event_record(
    *, rr: ReturnRequest, from_status: str, to_status: str, actor, reason: str = ""
) -> ReturnEvent:
    return ReturnEvent.objects.create(
        return_request=rr,
        from_status=from_status,
        to_status=to_status,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_label(actor),
        reason=reason,
    )


def refuse(rr: ReturnRequest, action: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(f"Return {rr.number} is {rr.status}; it cannot be {action}.")


def notify(order: Order, event: str, *, extra: dict, dedupe_suffix: str) -> None:
    """Tell the customer. Imported late: orders' notify pulls in the
    notifications app, which must not load with this module."""
    from orders.services.notify import order_notify

    order_notify(order=order, event=event, extra=extra, dedupe_suffix=dedupe_suffix)
