"""Order reads. A customer sees only their own orders; anyone else's number is
a plain 404, so existence never leaks."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.errors import NotFound
from core.sql import columns, select_joined, select_joined_rows, select_models

from .models import Hold, Market, Order, OrderEvent, OrderLine, ShippingMethod


def order_lines_attach(order: Order, lines: list[OrderLine] | None = None) -> list[OrderLine]:
    """Make `order.lines.all()` return `lines` from now on, with no query: the
    lines a service has just written, or (None) the order's lines read here in
    plain SQL, once, for a hot path that reads them several times."""
    if lines is None:
        lines = select_models(_LINES, [order.pk], OrderLine)
    cached = OrderLine.objects.none()
    cached._result_cache = lines
    order._prefetched_objects_cache = {
        **getattr(order, "_prefetched_objects_cache", {}),
        "lines": cached,
    }
    return lines


_LINES = (
    f"SELECT {columns(OrderLine, 'l')} FROM {OrderLine._meta.db_table} l "
    "WHERE order_id = %s ORDER BY id"
)


def orders_attach_children(orders: list[Order]) -> None:
    """What the API shows of each order beyond its row: its lines
    (`order.lines.all()`) and active holds (`order.active_holds`, with who
    placed them and on which shipment), in two plain statements for any
    number of orders: what `prefetch_related` does, without its compile,
    which cost more than the statements on every read."""
    if not orders:
        return
    ids = [order.pk for order in orders]
    marks = ", ".join(["%s"] * len(ids))
    lines: dict[int, list[OrderLine]] = {pk: [] for pk in ids}
    for line in select_models(_LINES_OF.format(ids=marks), ids, OrderLine):
        lines[line.order_id].append(line)
    holds: dict[int, list[Hold]] = {pk: [] for pk in ids}
    for hold, placed_by, shipment in select_joined_rows(
        _ACTIVE_HOLDS_OF.format(ids=marks), ids, _HOLD_MODELS
    ):
        _HOLD_PLACED_BY.set_cached_value(hold, placed_by)
        _HOLD_SHIPMENT.set_cached_value(hold, shipment)
        holds[hold.order_id].append(hold)
    for order in orders:
        order_lines_attach(order, lines[order.pk])
        order.active_holds = holds[order.pk]


_HOLD_PLACED_BY = Hold._meta.get_field("placed_by")
_HOLD_SHIPMENT = Hold._meta.get_field("shipment")
_HOLD_MODELS = (Hold, _HOLD_PLACED_BY.related_model, _HOLD_SHIPMENT.related_model)
_LINES_OF = (
    f"SELECT {columns(OrderLine, 'l')} FROM {OrderLine._meta.db_table} l "
    "WHERE order_id IN ({ids}) ORDER BY id"
)
_ACTIVE_HOLDS_OF = (
    f"SELECT {columns(Hold, 'h')}, {columns(_HOLD_MODELS[1], 'u')}, "
    f"{columns(_HOLD_MODELS[2], 's')} FROM {Hold._meta.db_table} h "
    f"LEFT JOIN {_HOLD_MODELS[1]._meta.db_table} u ON u.id = h.placed_by_id "
    f"LEFT JOIN {_HOLD_MODELS[2]._meta.db_table} s ON s.id = h.shipment_id "
    "WHERE h.order_id IN ({ids}) AND h.released_at IS NULL ORDER BY h.placed_at, h.id"
)


def user_sees_all_orders(user) -> bool:
    return bool(user.is_staff and user.has_perm("orders.view_order"))


def order_list(*, user) -> QuerySet[Order]:
    """The orders `user` may see, with their market. For the API's output,
    attach each page's lines and holds (`orders_attach_children`)."""
    qs = Order.objects.select_related("market")
    return qs if user_sees_all_orders(user) else qs.filter(customer=user)


def order_get(*, user, number: str) -> Order:
    """The order `user` may see by this number, with its market, lines and
    active holds: three plain statements, on every read of an order."""
    sql, params = _ORDER_BY_NUMBER, [number]
    if not user_sees_all_orders(user):
        sql, params = sql + " AND o.customer_id = %s", [number, user.pk]
    found = select_joined(sql, params, (Order, Market))
    if found is None:
        raise NotFound(f"No order {number}.")
    order, market = found
    Order._meta.get_field("market").set_cached_value(order, market)
    orders_attach_children([order])
    return order


_ORDER_BY_NUMBER = (
    f"SELECT {columns(Order, 'o')}, {columns(Market, 'm')} FROM {Order._meta.db_table} o "
    f"JOIN {Market._meta.db_table} m ON m.id = o.market_id WHERE o.number = %s"
)


def order_history(*, user, number: str) -> QuerySet[OrderEvent]:
    """The order's audit trail; a customer does not see staff-only rows."""
    events = order_get(user=user, number=number).events.all()
    return events if user_sees_all_orders(user) else events.filter(staff_only=False)


def market_list() -> QuerySet[Market]:
    return Market.objects.filter(active=True).prefetch_related(
        Prefetch("shipping_methods", queryset=ShippingMethod.objects.filter(active=True))
    )
