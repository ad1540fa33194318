"""GET /api/v1/orders/ (filters, pagination) and GET /orders/{number}/ (the
fields API.md promises, in the formats it promises)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from tests.orders.support import (
    IN_ADDRESS,
    ORDERS_URL,
    US_ADDRESS,
    assert_error,
    order_body,
    order_url,
)

MONEY = re.compile(r"^\d+\.\d{2}$")
ORDER_FIELDS = {
    "number",
    "status",
    "market",
    "currency",
    "items",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "payment_method",
    "payment_status",
    "shipping_method",
    "shipping_address",
    "created_at",
    "updated_at",
}
LINE_FIELDS = {
    "sku",
    "name",
    "quantity",
    "unit_price",
    "line_total",
    "quantity_shipped",
    "quantity_returned",
}


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [o["number"] for o in response.json()["results"]]


@pytest.fixture
def orders(shop, customer_api, place):
    """Three orders of one customer: US confirmed, US cancelled (declined), IN
    confirmed; created a day apart (oldest first)."""
    confirmed = place(customer_api, order_body("US", [("TSHIRT-RED-M", 1)])).json()["number"]
    declined = place(
        customer_api, order_body("US", [("HOODIE-GREY-M", 1)], payment_token="tok_chargeDeclined")
    ).json()["number"]
    india = place(customer_api, order_body("IN", [("TSHIRT-RED-M", 1)])).json()["number"]
    now = timezone.now()
    for days, number in ((3, confirmed), (2, declined), (1, india)):
        Order.objects.filter(number=number).update(created_at=now - timedelta(days=days))
    return {"confirmed": confirmed, "declined": declined, "india": india}


class TestDetail:
    def test_fields_and_formats(self, shop, customer_api, place):
        placed = place(
            customer_api,
            order_body("US", [("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)], promo_code="WELCOME10"),
        ).json()
        body = customer_api.get(order_url(placed["number"])).json()

        assert set(body) >= ORDER_FIELDS, ORDER_FIELDS - set(body)
        assert re.fullmatch(r"US-\d{6}", body["number"])
        assert body["status"] == "confirmed"
        assert body["market"] == "US"
        assert body["currency"] == "USD"
        assert body["payment_method"] == "card"
        assert body["payment_status"] == "authorized"
        assert body["shipping_method"] == "standard"
        assert body["shipping_address"] == US_ADDRESS
        for name in ("subtotal", "discount", "shipping", "tax", "total"):
            assert isinstance(body[name], str) and MONEY.match(body[name]), (name, body[name])
        # 2 × 19.99 + 49.00 = 88.98; −8.90; free shipping; tax 6.41
        assert (
            body["subtotal"],
            body["discount"],
            body["shipping"],
            body["tax"],
            body["total"],
        ) == (
            "88.98",
            "8.90",
            "0.00",
            "6.41",
            "86.49",
        )
        for stamp in ("created_at", "updated_at"):
            assert datetime.fromisoformat(body[stamp]).tzinfo is not None
        assert [set(line) >= LINE_FIELDS for line in body["items"]] == [True, True]
        assert [
            (
                i["sku"],
                i["quantity"],
                i["unit_price"],
                i["line_total"],
                i["quantity_shipped"],
                i["quantity_returned"],
            )
            for i in body["items"]
        ] == [
            ("TSHIRT-RED-M", 2, "19.99", "39.98", 0, 0),
            ("HOODIE-GREY-M", 1, "49.00", "49.00", 0, 0),
        ]
        assert body["items"][0]["name"] == shop.tshirt.name
        assert "payment_token" not in body
        assert "tok_visa" not in customer_api.get(order_url(placed["number"])).content.decode()

    def test_detail_matches_the_201_apart_from_progress(self, shop, customer_api, place):
        placed = place(customer_api, order_body("US"), confirm=False).json()
        fetched = customer_api.get(order_url(placed["number"])).json()
        assert fetched == placed

    def test_phone_is_normalised(self, shop, customer_api, place):
        body = order_body("IN")
        body["shipping_address"]["phone"] = "098765 43210"
        placed = place(customer_api, body, confirm=False)
        assert placed.status_code == 201, placed.json()
        assert placed.json()["shipping_address"]["phone"] == IN_ADDRESS["phone"]

    def test_number_is_public_not_the_database_id(self, shop, customer_api, place):
        number = place(customer_api, order_body("US"), confirm=False).json()["number"]
        pk = Order.objects.get(number=number).pk
        assert_error(customer_api.get(f"{ORDERS_URL}{pk}/"), 404, "NOT_FOUND")


class TestListFilters:
    def test_newest_first(self, orders, customer_api):
        assert numbers(customer_api.get(ORDERS_URL)) == [
            orders["india"],
            orders["declined"],
            orders["confirmed"],
        ]

    def test_status(self, orders, customer_api):
        assert numbers(customer_api.get(ORDERS_URL, {"status": "cancelled"})) == [
            orders["declined"]
        ]
        assert numbers(customer_api.get(ORDERS_URL, {"status": "confirmed"})) == [
            orders["india"],
            orders["confirmed"],
        ]
        assert numbers(customer_api.get(ORDERS_URL, {"status": "shipped"})) == []

    def test_market(self, orders, customer_api):
        assert numbers(customer_api.get(ORDERS_URL, {"market": "IN"})) == [orders["india"]]
        assert numbers(customer_api.get(ORDERS_URL, {"market": "us"})) == [
            orders["declined"],
            orders["confirmed"],
        ]

    def test_created_after_and_before(self, orders, customer_api):
        now = timezone.now()
        after = (now - timedelta(days=2, hours=1)).isoformat()
        before = (now - timedelta(hours=12)).isoformat()
        assert numbers(customer_api.get(ORDERS_URL, {"created_after": after})) == [
            orders["india"],
            orders["declined"],
        ]
        assert numbers(customer_api.get(ORDERS_URL, {"created_before": after})) == [
            orders["confirmed"]
        ]
        assert numbers(
            customer_api.get(
                ORDERS_URL,
                {
                    "created_after": after,
                    "created_before": (now - timedelta(days=1, hours=12)).isoformat(),
                },
            )
        ) == [orders["declined"]]
        assert numbers(customer_api.get(ORDERS_URL, {"created_before": before})) == [
            orders["india"],
            orders["declined"],
            orders["confirmed"],
        ]

    def test_combined(self, orders, customer_api):
        response = customer_api.get(ORDERS_URL, {"status": "confirmed", "market": "US"})
        assert numbers(response) == [orders["confirmed"]]

    @pytest.mark.parametrize(
        "params",
        [{"status": "lost"}, {"created_after": "yesterday"}, {"created_before": "2026-13-45"}],
    )
    def test_bad_filter_is_400(self, orders, customer_api, params):
        error = assert_error(customer_api.get(ORDERS_URL, params), 400, "VALIDATION_FAILED")
        assert {d["field"] for d in error["details"]} == set(params)


def bulk_orders(customer, market, count: int) -> None:
    now = timezone.now()
    Order.objects.bulk_create(
        [
            Order(
                number=f"{market.code}-{900000 + i}",
                customer=customer,
                market=market,
                currency=market.currency,
                subtotal=Decimal("10.00"),
                total=Decimal("10.80"),
                tax=Decimal("0.80"),
                tax_rate=market.tax_rate,
                prices_include_tax=market.prices_include_tax,
                shipping_method="standard",
                shipping_address=US_ADDRESS,
                payment_method="card",
                created_at=now - timedelta(minutes=i),
            )
            for i in range(count)
        ]
    )


class TestPagination:
    def test_shape_and_links(self, shop, customer, customer_api):
        bulk_orders(customer, shop.us, 5)
        first = customer_api.get(ORDERS_URL, {"page_size": 2}).json()
        assert set(first) >= {"count", "next", "previous", "results"}
        assert first["count"] == 5
        assert first["previous"] is None
        assert len(first["results"]) == 2
        assert "page=2" in first["next"]
        second = customer_api.get(first["next"]).json()
        assert len(second["results"]) == 2
        assert second["previous"]
        last = customer_api.get(ORDERS_URL, {"page_size": 2, "page": 3}).json()
        assert len(last["results"]) == 1
        assert last["next"] is None
        seen = [o["number"] for page in (first, second, last) for o in page["results"]]
        assert len(set(seen)) == 5

    def test_page_size_is_capped_at_100(self, shop, customer, customer_api):
        bulk_orders(customer, shop.us, 105)
        body = customer_api.get(ORDERS_URL, {"page_size": 1000}).json()
        assert body["count"] == 105
        assert len(body["results"]) == 100
        assert body["next"]

    def test_default_page(self, shop, customer, customer_api):
        bulk_orders(customer, shop.us, 25)
        body = customer_api.get(ORDERS_URL).json()
        assert body["count"] == 25
        assert 0 < len(body["results"]) <= 100
        assert body["next"] is not None or len(body["results"]) == 25

    def test_empty_list(self, db, customer_api):
        assert customer_api.get(ORDERS_URL).json() == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }
