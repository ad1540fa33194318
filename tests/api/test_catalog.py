"""GET /markets/, GET /products/?market=&search=, and POST /products/ (staff)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import Product, ProductPrice
from orders.models import ShippingMethod
from tests.factories import MarketFactory
from tests.orders.support import assert_error, assert_unchanged, order_body, product, snapshot

MARKETS = "/api/v1/markets/"
PRODUCTS = "/api/v1/products/"


def results(response) -> list[dict]:
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) >= {"count", "next", "previous", "results"}
    return body["results"]


def by_code(rows, key="code") -> dict:
    return {row[key]: row for row in rows}


class TestMarkets:
    def test_fields_as_api_md(self, shop, api):
        markets = by_code(results(api.get(MARKETS)))
        assert set(markets) == {"US", "IN"}
        us, india = markets["US"], markets["IN"]
        for market in (us, india):
            assert set(market) >= {
                "code",
                "currency",
                "payment_methods",
                "shipping_methods",
                "prices_include_tax",
                "tax_rate",
                "cod_limit",
                "return_window_days",
            }
        assert us["currency"] == "USD"
        assert us["payment_methods"] == ["card"]
        assert us["prices_include_tax"] is False
        assert us["tax_rate"] == "0.0800"
        assert us["cod_limit"] is None
        assert us["return_window_days"] == 30
        assert [(m["code"], m["price"], m["free_over"]) for m in us["shipping_methods"]] == [
            ("standard", "5.99", "50.00"),
            ("express", "14.99", None),
        ]

        assert india["currency"] == "INR"
        assert india["payment_methods"] == ["card", "upi", "cod"]
        assert india["prices_include_tax"] is True
        assert india["tax_rate"] == "0.1800"
        assert india["cod_limit"] == "50000.00"
        assert [(m["code"], m["price"], m["free_over"]) for m in india["shipping_methods"]] == [
            ("standard", "49.00", "999.00"),
            ("express", "149.00", None),
        ]

    def test_inactive_market_and_method_are_hidden(self, shop, api):
        MarketFactory(code="PH", name="Philippines", currency="PHP", country="PH", active=False)
        ShippingMethod.objects.filter(market=shop.us, code="express").update(active=False)
        markets = by_code(results(api.get(MARKETS)))
        assert set(markets) == {"US", "IN"}
        assert [m["code"] for m in markets["US"]["shipping_methods"]] == ["standard"]

    def test_open_to_customers_too(self, shop, customer_api):
        assert len(results(customer_api.get(MARKETS))) == 2


class TestProductList:
    def test_market_and_search(self, shop, api):
        rows = results(api.get(PRODUCTS, {"market": "US", "search": "shirt"}))
        assert [r["sku"] for r in rows] == ["TSHIRT-RED-M"]
        [row] = rows
        assert set(row) >= {"sku", "name", "price", "currency", "available"}
        assert row["price"] == "19.99"
        assert row["currency"] == "USD"
        assert row["available"] == 50
        assert row["name"] == shop.tshirt.name

    def test_other_market_has_its_own_price_and_currency(self, shop, api):
        row = by_code(results(api.get(PRODUCTS, {"market": "IN"})), "sku")["TSHIRT-RED-M"]
        assert (row["price"], row["currency"], row["available"]) == ("1499.00", "INR", 50)

    def test_search_is_case_insensitive_on_name_and_sku(self, shop, api):
        product("MUG-01", {"US": "8.50"}, {shop.us_wh: 4})
        Product.objects.filter(sku="MUG-01").update(name="Coffee mug")
        assert [
            r["sku"] for r in results(api.get(PRODUCTS, {"market": "US", "search": "COFFEE"}))
        ] == ["MUG-01"]
        assert [
            r["sku"] for r in results(api.get(PRODUCTS, {"market": "US", "search": "mug-0"}))
        ] == ["MUG-01"]
        assert results(api.get(PRODUCTS, {"market": "US", "search": "nothing-like-this"})) == []

    def test_only_active_products_priced_in_the_market(self, shop, api):
        product("IN-ONLY", {"IN": "499.00"}, {shop.in_wh: 3})
        product("RETIRED", {"US": "5.00"}, {shop.us_wh: 3}, active=False)
        us_skus = {r["sku"] for r in results(api.get(PRODUCTS, {"market": "US"}))}
        in_skus = {r["sku"] for r in results(api.get(PRODUCTS, {"market": "IN"}))}
        assert us_skus == {"TSHIRT-RED-M", "HOODIE-GREY-M"}
        assert in_skus == {"TSHIRT-RED-M", "HOODIE-GREY-M", "IN-ONLY"}

    def test_available_counts_the_markets_warehouses_minus_reservations(
        self, shop, customer_api, place, api
    ):
        product("SPLIT", {"US": "5.00", "IN": "400.00"}, {shop.us_wh: 7, shop.in_wh: 2})
        assert place(customer_api, order_body("US", [("SPLIT", 3)])).status_code == 201
        us_row = by_code(results(api.get(PRODUCTS, {"market": "US"})), "sku")["SPLIT"]
        in_row = by_code(results(api.get(PRODUCTS, {"market": "IN"})), "sku")["SPLIT"]
        assert us_row["available"] == 4
        assert in_row["available"] == 2

    def test_priced_but_unstocked_is_listed_with_zero(self, shop, api):
        product("SOON", {"US": "12.00"})
        row = by_code(results(api.get(PRODUCTS, {"market": "US"})), "sku")["SOON"]
        assert row["available"] == 0

    def test_unknown_market_is_400(self, shop, api):
        error = assert_error(api.get(PRODUCTS, {"market": "XX"}), 400, "VALIDATION_FAILED")
        assert [(d["field"], d["code"]) for d in error["details"]] == [
            ("market", "MARKET_NOT_FOUND")
        ]

    def test_market_code_is_case_insensitive(self, shop, api):
        assert {r["sku"] for r in results(api.get(PRODUCTS, {"market": "us"}))} == {
            "TSHIRT-RED-M",
            "HOODIE-GREY-M",
        }


class TestProductCreate:
    def test_staff_create_with_prices_per_market(self, shop, staff_api, api):
        body = {
            "sku": "CAP-BLK",
            "name": "Cap, black",
            "prices": {"US": "19.9", "IN": "1499.00"},
            "active": True,
        }
        response = staff_api.post(PRODUCTS, body, format="json")

        assert response.status_code == 201, response.json()
        created = response.json()
        assert created["sku"] == "CAP-BLK"
        assert created["name"] == "Cap, black"
        assert created["prices"] == {"US": "19.90", "IN": "1499.00"}
        assert dict(
            ProductPrice.objects.filter(product__sku="CAP-BLK").values_list("market_code", "amount")
        ) == {"US": Decimal("19.90"), "IN": Decimal("1499.00")}
        row = by_code(results(api.get(PRODUCTS, {"market": "IN"})), "sku")["CAP-BLK"]
        assert (row["price"], row["currency"], row["available"]) == ("1499.00", "INR", 0)

    def test_lower_case_market_codes_are_accepted(self, shop, staff_api):
        body = {"sku": "CAP-RED", "name": "Cap", "prices": {"us": "9.99"}}
        response = staff_api.post(PRODUCTS, body, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["prices"] == {"US": "9.99"}

    def test_unknown_market_is_400_and_creates_nothing(self, shop, staff_api):
        before = snapshot()
        body = {"sku": "CAP-BLK", "name": "Cap", "prices": {"US": "19.99", "XX": "5.00"}}
        response = staff_api.post(PRODUCTS, body, format="json")
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert [(d["field"], d["code"]) for d in error["details"]] == [
            ("prices.XX", "MARKET_NOT_FOUND")
        ]
        assert_unchanged(before)
        assert not Product.objects.filter(sku="CAP-BLK").exists()

    def test_duplicate_sku_is_400(self, shop, staff_api):
        before = snapshot()
        body = {"sku": "tshirt-red-m", "name": "Again", "prices": {"US": "1.00"}}
        error = assert_error(
            staff_api.post(PRODUCTS, body, format="json"), 400, "VALIDATION_FAILED"
        )
        assert [d["field"] for d in error["details"]] == ["sku"]
        assert_unchanged(before)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "No sku", "prices": {}}, "sku"),
            ({"sku": "has space", "name": "x", "prices": {}}, "sku"),
            ({"sku": "OK-1", "prices": {}}, "name"),
            ({"sku": "OK-1", "name": "x", "prices": {"US": "-1.00"}}, "prices.US"),
            ({"sku": "OK-1", "name": "x", "prices": {"US": "abc"}}, "prices.US"),
            ({"sku": "OK-1", "name": "x", "prices": {"US": "1.999"}}, "prices.US"),
        ],
    )
    def test_bad_input_is_400(self, shop, staff_api, body, field):
        before = snapshot()
        error = assert_error(
            staff_api.post(PRODUCTS, body, format="json"), 400, "VALIDATION_FAILED"
        )
        assert field in {d["field"] for d in error["details"]}
        assert_unchanged(before)

    def test_inactive_product_is_not_listed(self, shop, staff_api, api):
        body = {"sku": "HIDDEN", "name": "Hidden", "prices": {"US": "1.00"}, "active": False}
        assert staff_api.post(PRODUCTS, body, format="json").status_code == 201
        assert "HIDDEN" not in {r["sku"] for r in results(api.get(PRODUCTS, {"market": "US"}))}
