"""Order reads. A customer sees only their own orders; anyone else's number is
a plain 404, so existence never leaks."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.errors import NotFound

from .models import Hold, Market, Order, OrderEvent, OrderLine, ShippingMethod


def order_lines_attach(order: Order, lines: list[OrderLine] | None = None) -> list[OrderLine]:
    """Make `order.lines.all()` return `lines` from now on, with no query: the
    lines a service has just written, or (None) the order's lines read here in
    plain SQL, once, for a hot path that reads them several times."""
    if lines is None:
        lines = list(OrderLine.objects.raw(_LINES, [order.pk]))
    cached = OrderLine.objects.none()
    cached._result_cache = lines
    order._prefetched_objects_cache = {
        **getattr(order, "_prefetched_objects_cache", {}),
        "lines": cached,
    }
    return lines


_LINES = f"SELECT * FROM {OrderLine._meta.db_table} WHERE order_id = %s ORDER BY id"


def user_sees_all_orders(user) -> bool:
    return bool(user.is_staff and user.has_perm("orders.view_order"))


def order_list(*, user) -> QuerySet[Order]:
    active_holds = Hold.objects.filter(released_at__isnull=True).select_related(
        "placed_by", "shipment"
    )
    qs = Order.objects.select_related("market").prefetch_related(
        "lines", Prefetch("holds", queryset=active_holds, to_attr="active_holds")
    )
    return qs if user_sees_all_orders(user) else qs.filter(customer=user)


def order_get(*, user, number: str) -> Order:
    order = order_list(user=user).filter(number=number).first()
    if order is None:
        raise NotFound(f"No order {number}.")
    return order


def order_history(*, user, number: str) -> QuerySet[OrderEvent]:
    """The order's audit trail; a customer does not see staff-only rows."""
    events = order_get(user=user, number=number).events.all()
    return events if user_sees_all_orders(user) else events.filter(staff_only=False)


def market_list() -> QuerySet[Market]:
    return Market.objects.filter(active=True).prefetch_related(
        Prefetch("shipping_methods", queryset=ShippingMethod.objects.filter(active=True))
    )
