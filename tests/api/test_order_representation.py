"""OrderSerializer builds its output by hand for speed; it must say exactly what
DRF's generic path over the same declared fields says, for every kind of order
and every way an order reaches it (fresh from placement, read back, listed)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from orders.selectors import order_list
from orders.serializers import OrderSerializer
from tests.orders.support import ORDERS_URL, order_body


def assert_same_as_generic(order: Order) -> dict:
    serializer = OrderSerializer()
    fast = serializer.to_representation(order)
    assert fast == serializer.generic_representation(order)
    # Same keys in the same order: JSON clients and snapshots see no difference.
    assert list(fast) == list(serializer.fields)
    return fast


def _placed(shop, customer_api, place, **overrides) -> Order:
    response = place(customer_api, order_body(**overrides), confirm=False)
    assert response.status_code == 201, response.content
    # Lines prefetched, as the views read them (and so edits below are seen).
    return Order.objects.prefetch_related("lines").get(number=response.json()["number"])


def test_fresh_and_read_back_orders_match(shop, customer, customer_api, place):
    body = order_body("US", (("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)), promo_code="welcome10")
    response = place(customer_api, body)
    assert response.status_code == 201, response.content
    order = order_list(user=customer).get(number=response.json()["number"])
    fast = assert_same_as_generic(order)
    # The 201 body came from the fast path on the in-memory order; progress
    # (status, payment) has moved on since, the rest is the same.
    progress = {"status", "payment_status", "updated_at"}
    assert {k: v for k, v in response.json().items() if k not in progress} == {
        k: v for k, v in fast.items() if k not in progress
    }
    assert fast["promo_code"] == "WELCOME10" and fast["discount"] != "0.00"


def test_every_field_kind_matches(shop, customer_api, place):
    order = _placed(shop, customer_api, place)
    order.tax_exempt = True
    order.cancel(reason="changed my mind ✓", at=timezone.now())  # status: an enum member now
    order.discount = Decimal("1.5")  # unquantized in memory: both paths round it
    order.shipping_address = {k: v for k, v in order.shipping_address.items()
                              if k not in ("line2", "region")}  # fmt: skip
    order.number = None
    line = order.lines.all()[0]
    line.quantity_shipped, line.quantity_returned = 3, 1  # distinct: a swap would show
    order.created_at = timezone.now().astimezone(timezone.get_fixed_timezone(330))
    fast = assert_same_as_generic(order)
    order.shipping_address = {**order.shipping_address, "name": None}
    assert assert_same_as_generic(order)["shipping_address"]["name"] is None
    order.shipping_address = None
    assert assert_same_as_generic(order)["shipping_address"] is None
    assert fast["number"] is None
    assert fast["shipping_address"]["line2"] == "" and fast["shipping_address"]["region"] == ""
    assert fast["created_at"].endswith("Z")


def test_indian_market_order_matches(shop, customer_api, place):
    response = place(customer_api, order_body("IN"), confirm=False)
    assert response.status_code == 201, response.content
    order = Order.objects.prefetch_related("lines").get(number=response.json()["number"])
    assert_same_as_generic(order)


@pytest.mark.parametrize("page_size", [1, 20])
def test_list_page_is_the_generic_output(shop, customer, customer_api, place, page_size):
    for _ in range(3):
        _placed(shop, customer_api, place)
    response = customer_api.get(ORDERS_URL, {"page_size": page_size})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == min(page_size, 3)
    serializer = OrderSerializer()
    expected = [serializer.generic_representation(o) for o in order_list(user=customer)]
    assert results == expected[:page_size]
