"""The order's row lock: every service that changes an order (or rows that
follow it, such as its shipments and returns) takes it first, so concurrent
writers queue on one row instead of interleaving."""

from __future__ import annotations

from ..models import Order


def order_lock(order_id: int, *related: str) -> Order:
    """Lock and return the order (with its market and customer, which most
    changes notify, and any `related` the caller reads next). Only the order's
    row is locked. Call inside a transaction."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("market", "customer", *related)
        .get(pk=order_id)
    )
