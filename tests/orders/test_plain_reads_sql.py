"""Plain reads held equal to the ORM's, field for field: `order_lock` reads the
order and what it brings along (market, customer, the customer's profile) in
one statement (`core.sql.select_joined`), and `core.sql.select_models` reads
rows as `Model.objects.raw` would."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.sql import columns, select_models
from orders.models import CustomerProfile, Order
from orders.services.locking import order_lock
from tests.factories import UserFactory

from .test_writing_sql import _place

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_the_lock_reads_what_select_related_reads(shop, customer):
    order = _place(shop, customer, promo="WELCOME10")
    orm = Order.objects.select_related("market", "customer__profile").get(pk=order.pk)
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        locked = order_lock(order.pk, with_profile=True)
        read = (_fields(locked), _fields(locked.market), _fields(locked.customer))
        profile = _fields(locked.customer.profile)
    assert len(captured) == 1, [q["sql"] for q in captured]
    if connection.features.has_select_for_update:
        assert captured[0]["sql"].endswith("FOR UPDATE OF o")
    assert read == (_fields(orm), _fields(orm.market), _fields(orm.customer))
    assert profile == _fields(orm.customer.profile)
    assert isinstance(read[0]["shipping_address"], dict)  # converted, as the ORM converts
    assert locked.status == orm.status and not locked._state.adding


def test_a_customer_without_a_profile_is_remembered_as_such(shop):
    buyer = UserFactory()
    CustomerProfile.objects.filter(user=buyer).delete()
    order = _place(shop, buyer)
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        locked = order_lock(order.pk, with_profile=True)
        with pytest.raises(CustomerProfile.DoesNotExist):
            locked.customer.profile  # noqa: B018
    assert len(captured) == 1


def test_an_unknown_order_is_does_not_exist(db):
    with transaction.atomic(), pytest.raises(Order.DoesNotExist):
        order_lock(987654)


def test_select_models_reads_rows_as_the_orm_does_with_extras_alongside(shop, customer):
    order = _place(shop, customer)
    sql = (
        f"SELECT {columns(Order, 'o')}, o.id * 2 FROM {Order._meta.db_table} o "
        "WHERE o.customer_id = %s ORDER BY o.id"
    )
    [read] = select_models(sql, [customer.pk], Order, extra=["twice"])
    assert _fields(read) == _fields(Order.objects.get(pk=order.pk))
    assert read.twice == order.pk * 2 and not read._state.adding
    assert select_models(sql, [customer.pk + 1000], Order) == []
