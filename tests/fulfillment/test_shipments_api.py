"""Staff create shipments (partial allowed), pack, ship, deliver and cancel
them; the worker moves stock and the order along. API.md, "Fulfillment"."""

from __future__ import annotations

import pytest

from fulfillment.models import Shipment, ShipmentLine
from fulfillment.selectors import pick_list
from inventory.models import MovementKind, Reservation, ReservationStatus, StockMovement
from orders.models import Order
from tests.factories import WarehouseFactory
from tests.fulfillment.support import (
    assert_stock_consistent,
    shipment_url,
    shipments_url,
)
from tests.orders.support import assert_error, detail_pairs, level_of, order_url, stock_in


def transitions(order: Order) -> list[tuple[str, str]]:
    return [(e.from_status, e.to_status) for e in order.events.all()]


class TestPartialThenFull:
    def test_two_shipments_ship_the_whole_order(self, shop, confirmed_order, ful, customer_api):
        order = confirmed_order([("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)])

        first = ful.create(order.number, [("TSHIRT-RED-M", 2)])
        assert first["status"] == "pending"
        assert first["order"] == order.number
        assert first["warehouse"] == "US-EAST"
        assert first["items"] == [{"sku": "TSHIRT-RED-M", "quantity": 2}]
        assert first["number"].startswith("SH-")
        order.refresh_from_db()
        assert order.status == "processing"

        packed = ful.post(shipment_url(first["number"], "pack"))
        assert packed.status_code == 200 and packed.json()["status"] == "packed"
        shipped = ful.ship(first["number"], tracking="1Z-FIRST")
        assert shipped["status"] == "shipped"
        assert shipped["carrier"] == "test"
        assert shipped["tracking_number"] == "1Z-FIRST"
        assert shipped["shipped_at"]

        body = customer_api.get(order_url(order.number)).json()
        assert body["status"] == "partially_shipped"
        by_sku = {i["sku"]: i["quantity_shipped"] for i in body["items"]}
        assert by_sku == {"TSHIRT-RED-M": 2, "HOODIE-GREY-M": 0}
        # Shipped units left both reserved and on hand.
        tshirt = level_of(shop.tshirt, shop.us_wh)
        assert (tshirt.on_hand, tshirt.reserved) == (48, 1)

        second = ful.create(order.number, [("TSHIRT-RED-M", 1), ("HOODIE-GREY-M", 1)])
        ful.ship(second["number"])  # straight from pending: packs implicitly

        body = customer_api.get(order_url(order.number)).json()
        assert body["status"] == "shipped"
        assert {i["sku"]: i["quantity_shipped"] for i in body["items"]} == {
            "TSHIRT-RED-M": 3,
            "HOODIE-GREY-M": 1,
        }
        order.refresh_from_db()
        assert transitions(order)[-3:] == [
            ("confirmed", "processing"),
            ("processing", "partially_shipped"),
            ("partially_shipped", "shipped"),
        ]
        assert (
            level_of(shop.tshirt, shop.us_wh).on_hand,
            level_of(shop.tshirt, shop.us_wh).reserved,
        ) == (47, 0)
        assert (
            level_of(shop.hoodie, shop.us_wh).on_hand,
            level_of(shop.hoodie, shop.us_wh).reserved,
        ) == (19, 0)
        assert set(
            Reservation.objects.filter(order_line__order=order).values_list("status", flat=True)
        ) == {ReservationStatus.FULFILLED}
        sales = StockMovement.objects.filter(kind=MovementKind.SALE, reference=order.number)
        assert sorted(m.on_hand_delta for m in sales) == [-2, -1, -1]
        assert all(m.on_hand_delta == m.reserved_delta for m in sales)
        assert_stock_consistent()

    def test_listing_and_reading_shipments(self, shop, confirmed_order, ful, staff_api):
        order = confirmed_order([("TSHIRT-RED-M", 2)])
        created = ful.create(order.number, [("TSHIRT-RED-M", 1)])
        listed = staff_api.get(shipments_url(order.number)).json()
        assert listed["count"] == 1
        assert listed["results"][0]["number"] == created["number"]
        detail = staff_api.get(shipment_url(created["number"])).json()
        assert detail == created
        assert_error(staff_api.get(shipment_url("SH-999999")), 404, "NOT_FOUND")


class TestOverShipping:
    def test_more_than_ordered_is_refused_and_writes_nothing(self, shop, confirmed_order, ful):
        order = confirmed_order([("TSHIRT-RED-M", 3)])
        error = ful.refused(
            shipments_url(order.number),
            {"items": [{"sku": "TSHIRT-RED-M", "quantity": 4}]},
            400,
            "VALIDATION_FAILED",
        )
        assert detail_pairs(error) == [("items[0].quantity", "OVER_SHIPMENT")]
        assert not Shipment.objects.exists()
        order.refresh_from_db()
        assert order.status == "confirmed"

    def test_every_open_or_shipped_shipment_counts(self, shop, confirmed_order, ful):
        order = confirmed_order([("TSHIRT-RED-M", 3)])
        pending = ful.create(order.number, [("TSHIRT-RED-M", 2)])
        shipped = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
        assert shipped["status"] == "shipped"
        body = {"items": [{"sku": "TSHIRT-RED-M", "quantity": 1}]}
        error = ful.refused(shipments_url(order.number), body, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("items[0].quantity", "OVER_SHIPMENT")]
        # A cancelled shipment gives its units back to be shipped again.
        cancelled = ful.post(shipment_url(pending["number"], "cancel"), {"reason": "damaged box"})
        assert cancelled.json()["status"] == "cancelled"
        again = ful.create(order.number, [("TSHIRT-RED-M", 2)])
        assert again["items"] == [{"sku": "TSHIRT-RED-M", "quantity": 2}]

    def test_item_errors_have_detail_codes(self, shop, confirmed_order, ful):
        order = confirmed_order([("TSHIRT-RED-M", 2)])
        body = {
            "items": [
                {"sku": "NOPE", "quantity": 1},
                {"sku": "TSHIRT-RED-M", "quantity": 1},
                {"sku": "TSHIRT-RED-M", "quantity": 1},
            ]
        }
        error = ful.refused(shipments_url(order.number), body, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [
            ("items[0].sku", "UNKNOWN_ITEM"),
            ("items[2].sku", "DUPLICATE_ITEM"),
        ]
        error = ful.refused(shipments_url(order.number), {"items": []}, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("items", "ITEMS_REQUIRED")]
        for quantity in (0, "1", 1.0, True):  # API.md: quantities are integers
            body = {"items": [{"sku": "TSHIRT-RED-M", "quantity": quantity}]}
            error = ful.refused(shipments_url(order.number), body, 400, "VALIDATION_FAILED")
            assert detail_pairs(error) == [("items[0].quantity", "INVALID_QUANTITY")], quantity
        assert not ShipmentLine.objects.exists()

    def test_unknown_order_is_404(self, shop, ful):
        body = {"items": [{"sku": "TSHIRT-RED-M", "quantity": 1}]}
        ful.refused(shipments_url("US-999999"), body, 404, "NOT_FOUND")


class TestOrderState:
    def test_only_confirmed_processing_or_partially_shipped_orders(
        self, shop, customer_api, place, ful
    ):
        from tests.orders.support import order_body

        pending = place(customer_api, order_body("US", [("TSHIRT-RED-M", 1)]), confirm=False)
        number = pending.json()["number"]
        body = {"items": [{"sku": "TSHIRT-RED-M", "quantity": 1}]}
        ful.refused(shipments_url(number), body, 409, "TRANSITION_NOT_ALLOWED")

    def test_cancelling_an_order_drops_its_shipments_that_have_not_left(
        self, shop, confirmed_order, ful, customer_api
    ):
        order = confirmed_order([("TSHIRT-RED-M", 1)])
        created = ful.create(order.number, [("TSHIRT-RED-M", 1)])
        order.refresh_from_db()
        assert order.status == "processing"  # nothing shipped: still cancellable (API.md)

        with ful.on_commit():
            cancelled = customer_api.post(order_url(order.number, "cancel"), {}, format="json")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        assert Shipment.objects.get(number=created["number"]).status == "cancelled"
        assert pick_list(warehouse=shop.us_wh) == []  # nobody picks for it
        assert_stock_consistent()

    def test_an_order_whose_shipment_left_cannot_be_cancelled(
        self, shop, confirmed_order, ful, customer_api
    ):
        order = confirmed_order([("TSHIRT-RED-M", 2)])
        created = ful.create(order.number, [("TSHIRT-RED-M", 1)])
        ful.post(
            shipment_url(created["number"], "ship"), {"carrier": "manual", "tracking_number": "T-9"}
        )
        refused = customer_api.post(order_url(order.number, "cancel"), {}, format="json")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "TRANSITION_NOT_ALLOWED"


class TestWarehouses:
    @pytest.fixture
    def split(self, shop, confirmed_order):
        """3 T-shirts, all reserved in US-WEST (US-EAST, first by priority, has none)."""
        west = WarehouseFactory(code="US-WEST", country="US", priority=20, markets=["US"])
        stock_in(shop.tshirt, west, 10)
        stock_in(shop.tshirt, shop.us_wh, -50)  # US-EAST has none left
        return confirmed_order([("TSHIRT-RED-M", 3)]), west

    def test_default_is_the_warehouse_holding_the_reservations(self, split, ful, shop):
        order, _west = split
        reserved = {
            r.stock_level.warehouse.code: r.quantity
            for r in Reservation.objects.filter(order_line__order=order)
        }
        assert reserved == {"US-WEST": 3}
        created = ful.create(order.number, [("TSHIRT-RED-M", 2)])
        assert created["warehouse"] == "US-WEST"

    def test_named_warehouse_must_hold_the_units(self, split, ful):
        order, _west = split
        body = {"items": [{"sku": "TSHIRT-RED-M", "quantity": 1}], "warehouse": "US-EAST"}
        error = ful.refused(shipments_url(order.number), body, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("items[0].quantity", "NOT_RESERVED_IN_WAREHOUSE")]
        body["warehouse"] = "NOWHERE"
        error = ful.refused(shipments_url(order.number), body, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("warehouse", "WAREHOUSE_NOT_FOUND")]
        body["warehouse"] = "US-WEST"
        assert ful.post(shipments_url(order.number), body).status_code == 201

    def test_items_reserved_in_different_warehouses_need_two_shipments(
        self, shop, confirmed_order, ful
    ):
        west = WarehouseFactory(code="US-WEST", country="US", priority=20, markets=["US"])
        stock_in(shop.tshirt, west, 10)
        stock_in(shop.tshirt, shop.us_wh, -49)  # US-EAST keeps 1 T-shirt
        order = confirmed_order([("TSHIRT-RED-M", 3)])  # 1 east + 2 west
        body = {"items": [{"sku": "TSHIRT-RED-M", "quantity": 3}]}
        error = ful.refused(shipments_url(order.number), body, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("warehouse", "NOT_RESERVED_IN_WAREHOUSE")]

        east = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)], warehouse="US-EAST")
        rest = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 2)])
        assert (east["warehouse"], rest["warehouse"]) == ("US-EAST", "US-WEST")
        order.refresh_from_db()
        assert order.status == "shipped"
        assert (level_of(shop.tshirt, west).on_hand, level_of(shop.tshirt, west).reserved) == (8, 0)
        assert_stock_consistent()


class TestShipmentStates:
    def test_actions_the_state_forbids_are_409(self, shop, confirmed_order, ful):
        order = confirmed_order([("TSHIRT-RED-M", 2)])
        created = ful.create(order.number, [("TSHIRT-RED-M", 1)])
        number = created["number"]
        ful.refused(shipment_url(number, "deliver"), None, 409, "TRANSITION_NOT_ALLOWED")
        assert ful.post(shipment_url(number, "pack")).status_code == 200
        ful.refused(shipment_url(number, "pack"), None, 409, "TRANSITION_NOT_ALLOWED")
        ful.ship(number)
        ful.refused(
            shipment_url(number, "ship"),
            {"carrier": "test", "tracking_number": "AGAIN"},
            409,
            "TRANSITION_NOT_ALLOWED",
        )
        ful.refused(shipment_url(number, "cancel"), None, 409, "TRANSITION_NOT_ALLOWED")
        delivered = ful.deliver(number)
        assert delivered["status"] == "delivered" and delivered["delivered_at"]
        ful.refused(shipment_url(number, "deliver"), None, 409, "TRANSITION_NOT_ALLOWED")

    def test_ship_input_is_checked(self, shop, confirmed_order, ful):
        order = confirmed_order([("TSHIRT-RED-M", 2)])
        one = ful.create(order.number, [("TSHIRT-RED-M", 1)])["number"]
        two = ful.create(order.number, [("TSHIRT-RED-M", 1)])["number"]
        error = ful.refused(
            shipment_url(one, "ship"),
            {"carrier": "pigeon", "tracking_number": "X"},
            400,
            "VALIDATION_FAILED",
        )
        assert detail_pairs(error) == [("carrier", "CARRIER_NOT_FOUND")]
        error = ful.refused(
            shipment_url(one, "ship"), {"carrier": "test"}, 400, "VALIDATION_FAILED"
        )
        assert ("tracking_number", "REQUIRED") in detail_pairs(error)
        ful.ship(one, tracking="SAME-1")
        error = ful.refused(
            shipment_url(two, "ship"),
            {"carrier": "test", "tracking_number": "SAME-1"},
            400,
            "VALIDATION_FAILED",
        )
        assert detail_pairs(error) == [("tracking_number", "TRACKING_NUMBER_TAKEN")]
        assert Shipment.objects.get(number=two).status == "pending"


class TestAccess:
    def test_customers_and_anonymous_are_refused(
        self, shop, confirmed_order, customer_api, api, client_for
    ):
        from django.contrib.auth.models import Permission

        from tests.factories import StaffFactory

        order = confirmed_order([("TSHIRT-RED-M", 1)])
        body = {"items": [{"sku": "TSHIRT-RED-M", "quantity": 1}]}
        url = shipments_url(order.number)
        assert_error(api.post(url, body, format="json"), 401, "AUTHENTICATION_REQUIRED")
        assert_error(customer_api.post(url, body, format="json"), 403, "PERMISSION_DENIED")
        viewer = StaffFactory()
        viewer.user_permissions.set(Permission.objects.filter(codename="view_shipment"))
        staff = client_for(viewer)
        assert_error(staff.post(url, body, format="json"), 403, "PERMISSION_DENIED")
        assert staff.get(url).status_code == 200
        assert not Shipment.objects.exists()
