"""Plain reads held equal to the ORM's, field for field: `order_lock` reads the
order and what it brings along (market, customer, the customer's profile) in
one statement (`core.sql.select_joined`), `core.sql.select_models` reads
rows as `Model.objects.raw` would, and the API's order reads (`order_get`,
`orders_attach_children`) show what the ORM's prefetching read showed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import NotFound
from core.sql import columns, select_models
from fulfillment.models import Shipment
from orders.models import CustomerProfile, Hold, Order
from orders.selectors import order_get, order_list, orders_attach_children
from orders.serializers import OrderSerializer
from orders.services.locking import order_lock
from tests.factories import StaffFactory, UserFactory

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


def _orm_read(number: str) -> Order:
    """The order as the ORM's prefetching read it before the plain statements."""
    active = Hold.objects.filter(released_at__isnull=True).select_related("placed_by", "shipment")
    return (
        Order.objects.select_related("market")
        .prefetch_related("lines", Prefetch("holds", queryset=active, to_attr="active_holds"))
        .get(number=number)
    )


@pytest.fixture
def held_in_every_way(shop, customer):
    """An order with an order hold by the system, one by staff, one on a
    shipment, and one released (not shown)."""
    order = _place(shop, customer, promo="WELCOME10")
    staff = StaffFactory()
    shipment = Shipment.objects.create(order=order, warehouse=shop.us_wh, number="SH-PLAIN1")
    now = timezone.now()
    Hold.objects.create(order=order, reason="high_risk", note="rules", placed_at=now)
    Hold.objects.create(order=order, reason="manual", placed_by=staff, placed_at=now)
    Hold.objects.create(
        order=order, shipment=shipment, reason="address_check", placed_by=staff, placed_at=now
    )
    Hold.objects.create(
        order=order, reason="payment_check", placed_at=now, released_at=now, released_by=staff
    )
    return order, staff


def test_an_order_reads_in_three_statements_as_the_orm_read_it(held_in_every_way, customer):
    order, _ = held_in_every_way
    with CaptureQueriesContext(connection) as captured:
        shown = OrderSerializer(order_get(user=customer, number=order.number)).data
    assert len(captured) == 3, [q["sql"] for q in captured]
    assert shown == OrderSerializer(_orm_read(order.number)).data
    assert [h["reason"] for h in shown["holds"]] == ["high_risk", "manual", "address_check"]
    assert shown["holds"][2]["shipment"] == "SH-PLAIN1" and shown["holds"][0]["placed_by"] is None
    assert len(shown["items"]) == 2


def test_someone_elses_order_is_not_found_and_staff_see_it(held_in_every_way):
    order, staff = held_in_every_way
    with pytest.raises(NotFound):
        order_get(user=UserFactory(), number=order.number)
    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached per instance
    assert order_get(user=staff, number=order.number).pk == order.pk


def test_a_list_page_reads_its_orders_children_in_two_statements(held_in_every_way, shop, customer):
    orders = [held_in_every_way[0], _place(shop, customer)]
    page = list(order_list(user=customer).order_by("pk"))
    with CaptureQueriesContext(connection) as captured:
        orders_attach_children(page)
        shown = OrderSerializer(page, many=True).data
    assert len(captured) == 2
    assert shown == [OrderSerializer(_orm_read(order.number)).data for order in orders]
