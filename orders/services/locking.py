"""The order's row lock: every service that changes an order (or rows that
follow it, such as its shipments and returns) takes it first, so concurrent
writers queue on one row instead of interleaving."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from core.sql import columns, for_update, select_joined

from ..models import CustomerProfile, Market, Order


def order_lock(order_id: int, *, with_profile: bool = False) -> Order:
    """Lock and return the order, with its market and customer (most changes
    notify), and the customer's profile too when asked (the risk rules read
    it). Only the order's row is locked. Call inside a transaction.

    Plain SQL, as `select_related` would write it: every change to an order
    takes this lock, and the ORM's compile cost more than the statement."""
    sql = _LOCK_WITH_PROFILE if with_profile else _LOCK
    models = _MODELS + ((CustomerProfile,) if with_profile else ())
    found = select_joined(sql + for_update(of="o"), [order_id], models)
    if found is None:
        raise Order.DoesNotExist(f"No order {order_id}.")
    order, market, customer, *profile = found
    Order._meta.get_field("market").set_cached_value(order, market)
    Order._meta.get_field("customer").set_cached_value(order, customer)
    if with_profile:
        # Absent is remembered too: `customer.profile` then raises DoesNotExist, no query.
        CustomerProfile._meta.get_field("user").remote_field.set_cached_value(customer, profile[0])
    return order


def _lock_sql(*, with_profile: bool) -> str:
    user = get_user_model()
    selected = [columns(Order, "o"), columns(Market, "m"), columns(user, "u")]
    joins = [
        f"JOIN {Market._meta.db_table} m ON m.id = o.market_id",
        f"JOIN {user._meta.db_table} u ON u.id = o.customer_id",
    ]
    if with_profile:
        selected.append(columns(CustomerProfile, "pr"))
        joins.append(f"LEFT JOIN {CustomerProfile._meta.db_table} pr ON pr.user_id = u.id")
    return (
        f"SELECT {', '.join(selected)} FROM {Order._meta.db_table} o {' '.join(joins)} "
        "WHERE o.id = %s"
    )


_MODELS = (Order, Market, get_user_model())
_LOCK = _lock_sql(with_profile=False)
_LOCK_WITH_PROFILE = _lock_sql(with_profile=True)
