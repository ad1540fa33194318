"""Staff stock endpoints: GET /inventory/warehouses/, GET /inventory/stock/?sku=,
POST /inventory/adjustments/ (refused below reserved, ledger row with actor
and reason)."""

from __future__ import annotations

import pytest

from inventory.models import MovementKind, StockMovement
from tests.factories import WarehouseFactory
from tests.orders.support import (
    assert_error,
    assert_ledger_agrees,
    assert_unchanged,
    detail_pairs,
    level_of,
    order_body,
    product,
    snapshot,
)

WAREHOUSES = "/api/v1/inventory/warehouses/"
STOCK = "/api/v1/inventory/stock/"
ADJUST = "/api/v1/inventory/adjustments/"


def results(response) -> list[dict]:
    assert response.status_code == 200, response.json()
    return response.json()["results"]


class TestWarehouses:
    def test_fields_and_market_codes(self, shop, staff_api):
        WarehouseFactory(code="HUB", name="Hub", country="SG", priority=50, markets=["US", "IN"])
        rows = {r["code"]: r for r in results(staff_api.get(WAREHOUSES))}
        assert set(rows) == {"US-EAST", "IN-MUM", "HUB"}
        assert rows["US-EAST"]["markets"] == ["US"]
        assert rows["IN-MUM"]["markets"] == ["IN"]
        assert sorted(rows["HUB"]["markets"]) == ["IN", "US"]
        for row in rows.values():
            assert set(row) >= {"code", "name", "country", "markets"}
        assert (rows["HUB"]["name"], rows["HUB"]["country"]) == ("Hub", "SG")


class TestStock:
    def test_per_warehouse_on_hand_reserved_available(self, shop, staff_api, customer_api, place):
        assert place(customer_api, order_body("US", [("TSHIRT-RED-M", 4)])).status_code == 201
        rows = results(staff_api.get(STOCK, {"sku": "TSHIRT-RED-M"}))
        by_wh = {r["warehouse"]: r for r in rows}
        assert set(by_wh) == {"US-EAST", "IN-MUM"}
        us = by_wh["US-EAST"]
        assert (us["on_hand"], us["reserved"], us["available"]) == (50, 4, 46)
        india = by_wh["IN-MUM"]
        assert (india["on_hand"], india["reserved"], india["available"]) == (50, 0, 50)
        assert all(r["sku"] == "TSHIRT-RED-M" for r in rows)

    def test_without_sku_lists_everything(self, shop, staff_api):
        rows = results(staff_api.get(STOCK))
        assert {(r["sku"], r["warehouse"]) for r in rows} == {
            ("TSHIRT-RED-M", "US-EAST"),
            ("TSHIRT-RED-M", "IN-MUM"),
            ("HOODIE-GREY-M", "US-EAST"),
            ("HOODIE-GREY-M", "IN-MUM"),
        }

    def test_unknown_sku_is_empty(self, shop, staff_api):
        assert results(staff_api.get(STOCK, {"sku": "NOPE"})) == []


class TestAdjustments:
    def adjust(
        self, client, quantity, *, sku="TSHIRT-RED-M", warehouse="US-EAST", reason="recount"
    ):
        return client.post(
            ADJUST,
            {"sku": sku, "warehouse": warehouse, "quantity": quantity, "reason": reason},
            format="json",
        )

    def test_add_units(self, shop, staff_api, staff_user):
        response = self.adjust(staff_api, 10, reason="found a box")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["on_hand"], body["reserved"], body["available"]) == (60, 0, 60)
        assert body["quantity"] == 10
        assert level_of(shop.tshirt, shop.us_wh).on_hand == 60
        movement = StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT).get()
        assert movement.on_hand_delta == 10
        assert movement.reserved_delta == 0
        assert movement.actor == staff_user
        assert movement.reason == "found a box"
        assert (movement.product, movement.warehouse) == (shop.tshirt, shop.us_wh)
        assert_ledger_agrees()

    def test_remove_units(self, shop, staff_api):
        response = self.adjust(staff_api, -5, reason="water damage")
        assert response.status_code == 201, response.json()
        assert response.json()["on_hand"] == 45
        assert level_of(shop.tshirt, shop.us_wh).on_hand == 45
        assert_ledger_agrees()

    def test_down_to_exactly_reserved_is_allowed(self, shop, staff_api, customer_api, place):
        place(customer_api, order_body("US", [("TSHIRT-RED-M", 4)]))
        response = self.adjust(staff_api, -46)
        assert response.status_code == 201, response.json()
        assert (response.json()["on_hand"], response.json()["available"]) == (4, 0)
        assert_ledger_agrees()

    def test_below_reserved_is_refused_and_changes_nothing(
        self, shop, staff_api, customer_api, place
    ):
        place(customer_api, order_body("US", [("TSHIRT-RED-M", 4)]))
        before = snapshot()

        response = self.adjust(staff_api, -47)

        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert [d["field"] for d in error["details"]] == ["quantity"]
        assert "4" in error["details"][0]["message"]
        assert_unchanged(before)

    def test_below_zero_is_refused(self, shop, staff_api):
        before = snapshot()
        assert_error(self.adjust(staff_api, -51), 400, "VALIDATION_FAILED")
        assert_unchanged(before)

    def test_new_warehouse_level_is_created(self, shop, staff_api):
        WarehouseFactory(code="US-WEST", country="US", markets=["US"])
        response = self.adjust(staff_api, 7, warehouse="US-WEST")
        assert response.status_code == 201, response.json()
        rows = {r["warehouse"]: r for r in results(staff_api.get(STOCK, {"sku": "TSHIRT-RED-M"}))}
        assert rows["US-WEST"]["on_hand"] == 7
        assert_ledger_agrees()

    @pytest.mark.parametrize(
        ("overrides", "status", "code"),
        [
            ({"quantity": 0}, 400, "VALIDATION_FAILED"),
            ({"quantity": "lots"}, 400, "VALIDATION_FAILED"),
            ({"reason": ""}, 400, "VALIDATION_FAILED"),
            ({"sku": "NOPE"}, 400, "VALIDATION_FAILED"),
            ({"warehouse": "NOPE"}, 400, "VALIDATION_FAILED"),
        ],
    )
    def test_bad_input(self, shop, staff_api, overrides, status, code):
        body = {"sku": "TSHIRT-RED-M", "warehouse": "US-EAST", "quantity": 3, "reason": "x"}
        body.update(overrides)
        before = snapshot()
        assert_error(staff_api.post(ADJUST, body, format="json"), status, code)
        assert_unchanged(before)

    def test_unknown_references_are_named_field_by_field(self, shop, staff_api):
        body = {"sku": "NOPE", "warehouse": "XX", "quantity": 3, "reason": "x"}
        error = assert_error(staff_api.post(ADJUST, body, format="json"), 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [
            ("sku", "PRODUCT_NOT_FOUND"),
            ("warehouse", "WAREHOUSE_NOT_FOUND"),
        ]

    def test_adjusted_units_are_sellable(self, shop, staff_api, customer_api, place):
        scarce = product("SCARCE", {"US": "5.00"})
        assert place(customer_api, order_body("US", [("SCARCE", 1)])).status_code == 400
        assert self.adjust(staff_api, 2, sku="SCARCE").status_code == 201
        assert place(customer_api, order_body("US", [("SCARCE", 2)])).status_code == 201
        assert level_of(scarce, shop.us_wh).available == 0
