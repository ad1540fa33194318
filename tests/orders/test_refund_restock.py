"""Refund lines with a restock choice, black-box through the staff
API: `cancel` takes unshipped units off the order, `return` puts shipped units
back on hand, `none` moves money only; bad input is a 400 that changes nothing."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from django.db import connection

from inventory.models import MovementKind, StockLevel, StockMovement
from orders.models import Order, OrderLine
from orders.services.pricing import money
from payments.gateways.test_gateway import TestGateway
from payments.models import Payment, Refund
from tests.factories import WarehouseFactory
from tests.fulfillment import support as fulfillment
from tests.fulfillment.support import assert_stock_consistent, shipments_url
from tests.orders.support import stock_in

confirmed_order = fulfillment.confirmed_order  # fixtures shared with tests/fulfillment
ful = fulfillment.ful


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()


def refunds_url(number: str) -> str:
    return f"/api/v1/orders/{number}/refunds/"


def level(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def line(order: Order, sku: str) -> OrderLine:
    return OrderLine.objects.get(order=order, sku=sku)


@pytest.fixture
def shipped_order(shop, confirmed_order, ful):
    """3 T-shirts and a hoodie; one of each shipped (and captured) from US-EAST."""
    order = confirmed_order([("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1), ("HOODIE-GREY-M", 1)])
    order.refresh_from_db()
    return order


def share(order: Order, *units: tuple[str, int]) -> Decimal:
    """The rule the schema documents: (total − shipping) × units' value / subtotal."""
    value = sum(line(order, sku).unit_price * qty for sku, qty in units)
    return money((order.total - order.shipping) * value / order.subtotal)


def test_return_puts_shipped_units_back_where_they_shipped_from(
    shop, shipped_order, ful, staff_user
):
    order = shipped_order
    before = level(shop.hoodie, shop.us_wh).on_hand
    response = ful.post(
        refunds_url(order.number),
        {
            "reason": "arrived torn, resold",
            "lines": [{"sku": "HOODIE-GREY-M", "quantity": 1, "restock": "return"}],
        },
    )
    assert response.status_code == 201, response.json()
    assert Decimal(response.json()["amount"]) == share(order, ("HOODIE-GREY-M", 1))
    assert level(shop.hoodie, shop.us_wh).on_hand == before + 1
    movement = StockMovement.objects.get(product=shop.hoodie, kind=MovementKind.RETURN)
    assert movement.warehouse == shop.us_wh
    assert movement.on_hand_delta == 1
    assert movement.actor == staff_user
    assert movement.reference.startswith(order.number)
    assert "arrived torn" in movement.reason
    assert line(order, "HOODIE-GREY-M").quantity_returned == 1
    assert order.events.filter(
        reason__contains="HOODIE-GREY-M ×1 returned to stock at US-EAST"
    ).exists()
    assert_stock_consistent()


def test_return_to_a_named_warehouse_of_the_market(shop, shipped_order, ful):
    west = WarehouseFactory(code="US-WEST", country="US", priority=20, markets=["US"])
    stock_in(shop.tshirt, west, 1)
    response = ful.post(
        refunds_url(shipped_order.number),
        {
            "amount": "5.00",
            "reason": "returned to the west coast",
            "lines": [
                {"sku": "TSHIRT-RED-M", "quantity": 1, "restock": "return", "warehouse": "US-WEST"}
            ],
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "5.00"
    assert level(shop.tshirt, west).on_hand == 2
    assert StockMovement.objects.filter(
        warehouse=west, kind=MovementKind.RETURN, on_hand_delta=1
    ).exists()
    assert_stock_consistent()


def test_cancel_releases_unshipped_units_and_they_are_no_longer_to_ship(shop, shipped_order, ful):
    order = shipped_order
    before = level(shop.tshirt, shop.us_wh)
    response = ful.post(
        refunds_url(order.number),
        {
            "amount": "10.00",
            "reason": "customer no longer wants two",
            "lines": [{"sku": "TSHIRT-RED-M", "quantity": 2, "restock": "cancel"}],
        },
    )
    assert response.status_code == 201, response.json()
    after = level(shop.tshirt, shop.us_wh)
    assert after.reserved == before.reserved - 2  # available again
    assert after.on_hand == before.on_hand
    assert line(order, "TSHIRT-RED-M").quantity_cancelled == 2
    order.refresh_from_db()
    assert order.status == "shipped"  # all it ever will ship has shipped
    # Nothing is left to ship.
    refused = ful.post(
        shipments_url(order.number), {"items": [{"sku": "TSHIRT-RED-M", "quantity": 1}]}
    )
    assert refused.status_code == 409, refused.json()
    release = StockMovement.objects.filter(product=shop.tshirt, kind=MovementKind.RELEASE)
    assert [m.reserved_delta for m in release] == [-2]
    assert_stock_consistent()


def test_partial_cancel_leaves_the_rest_shippable(shop, shipped_order, ful):
    """The test gateway captures as goods ship: nothing was charged for the
    unshipped T-shirts, so cancelling one moves no money."""
    order = shipped_order
    response = ful.post(
        refunds_url(order.number),
        {
            "reason": "one less",
            "lines": [{"sku": "TSHIRT-RED-M", "quantity": 1, "restock": "cancel"}],
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "0.00"
    assert response.json()["status"] == "nothing_to_refund"
    assert not Refund.objects.exists()
    assert line(order, "TSHIRT-RED-M").quantity_cancelled == 1
    error = ful.refused(
        shipments_url(order.number),
        {"items": [{"sku": "TSHIRT-RED-M", "quantity": 2}]},
        400,
        "VALIDATION_FAILED",
    )
    assert error["details"][0]["code"] == "OVER_SHIPMENT"  # 3 ordered, 1 shipped, 1 cancelled
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    order.refresh_from_db()
    assert order.status == "shipped"  # the cancelled unit is not waited for
    # Payments captured the shipped goods only: the cancelled unit was never charged.
    assert Payment.objects.get(order=order).amount_captured == order.total - share(
        order, ("TSHIRT-RED-M", 1)
    )
    assert_stock_consistent()


def test_cancel_gives_back_what_a_single_capture_took(shop, confirmed_order, ful, monkeypatch):
    monkeypatch.setattr(TestGateway, "supports_multiple_captures", False)
    order = confirmed_order([("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)])
    ful.create_and_ship(order.number, [("HOODIE-GREY-M", 1)])  # captures the whole total
    order.refresh_from_db()
    response = ful.post(
        refunds_url(order.number),
        {
            "reason": "two fewer",
            "lines": [{"sku": "TSHIRT-RED-M", "quantity": 2, "restock": "cancel"}],
        },
    )
    assert response.status_code == 201, response.json()
    assert Decimal(response.json()["amount"]) == share(order, ("TSHIRT-RED-M", 2))
    assert Payment.objects.get(order=order).amount_refunded == share(order, ("TSHIRT-RED-M", 2))
    assert line(order, "TSHIRT-RED-M").quantity_cancelled == 2
    assert_stock_consistent()


def test_none_moves_money_only(shop, shipped_order, ful):
    order = shipped_order
    movements = StockMovement.objects.count()
    response = ful.post(
        refunds_url(order.number),
        {
            "reason": "goodwill",
            "lines": [{"sku": "HOODIE-GREY-M", "quantity": 1, "restock": "none"}],
        },
    )
    assert response.status_code == 201, response.json()
    assert StockMovement.objects.count() == movements
    hoodie = line(order, "HOODIE-GREY-M")
    assert (hoodie.quantity_returned, hoodie.quantity_cancelled) == (0, 0)
    assert order.events.filter(reason__contains="money only").exists()


LINE = {"sku": "HOODIE-GREY-M", "quantity": 1, "restock": "return"}


@pytest.mark.parametrize(
    ("lines", "field", "code"),
    [
        ([{**LINE, "sku": "NOPE-1"}], "lines[0].sku", "PRODUCT_NOT_FOUND"),
        ([{**LINE, "quantity": "1"}], "lines[0].quantity", "INVALID_QUANTITY"),
        ([{**LINE, "quantity": 1.0}], "lines[0].quantity", "INVALID_QUANTITY"),
        ([{**LINE, "quantity": True}], "lines[0].quantity", "INVALID_QUANTITY"),
        ([{**LINE, "quantity": 0}], "lines[0].quantity", "INVALID_QUANTITY"),
        ([{**LINE, "restock": "restock"}], "lines[0].restock", "INVALID_RESTOCK"),
        ([{**LINE, "warehouse": "NOWHERE"}], "lines[0].warehouse", "WAREHOUSE_NOT_FOUND"),
        ([{**LINE, "warehouse": "IN-MUM"}], "lines[0].warehouse", "WAREHOUSE_NOT_FOUND"),
        ([{**LINE, "quantity": 2}], "lines[0].quantity", "RESTOCK_QUANTITY_EXCEEDED"),
        ([LINE, LINE], "lines[1].quantity", "RESTOCK_QUANTITY_EXCEEDED"),
        (
            [{"sku": "TSHIRT-RED-M", "quantity": 3, "restock": "cancel"}],
            "lines[0].quantity",
            "RESTOCK_QUANTITY_EXCEEDED",
        ),
        (
            [{"sku": "HOODIE-GREY-M", "quantity": 1, "restock": "cancel"}],
            "lines[0].quantity",
            "RESTOCK_QUANTITY_EXCEEDED",
        ),
        (
            [{**LINE, "quantity": 2, "restock": "none"}],
            "lines[0].quantity",
            "RESTOCK_QUANTITY_EXCEEDED",
        ),
    ],
)
def test_bad_lines_are_refused_and_change_nothing(shop, shipped_order, ful, lines, field, code):
    order = shipped_order
    levels = list(StockLevel.objects.values_list("pk", "on_hand", "reserved").order_by("pk"))
    movements = StockMovement.objects.count()
    error = ful.refused(
        refunds_url(order.number), {"reason": "x", "lines": lines}, 400, "VALIDATION_FAILED"
    )
    assert {"field": field, "code": code} in [
        {"field": d["field"], "code": d["code"]} for d in error["details"]
    ], error
    assert not Refund.objects.exists()
    assert (
        list(StockLevel.objects.values_list("pk", "on_hand", "reserved").order_by("pk")) == levels
    )
    assert StockMovement.objects.count() == movements
    assert not OrderLine.objects.filter(order=order, quantity_returned__gt=0).exists()
    assert not OrderLine.objects.filter(order=order, quantity_cancelled__gt=0).exists()


@pytest.mark.parametrize(
    "lines",
    [
        None,
        "HOODIE-GREY-M",
        5,
        [None],
        ["HOODIE-GREY-M"],
        [{}],
        [{**LINE, "sku": None}],
        [{**LINE, "restock": None}],
        [{**LINE, "warehouse": None}],
        [{**LINE, "quantity": 10**30}],
    ],
)
def test_malformed_lines_are_a_400_never_a_500(shipped_order, ful, lines):
    ful.refused(
        refunds_url(shipped_order.number),
        {"amount": "1.00", "reason": "x", "lines": lines},
        400,
        "VALIDATION_FAILED",
    )
    assert not Refund.objects.exists()


def test_neither_amount_nor_lines_is_refused(shipped_order, ful):
    error = ful.refused(
        refunds_url(shipped_order.number), {"reason": "x"}, 400, "VALIDATION_FAILED"
    )
    assert error["details"][0]["code"] == "INVALID_AMOUNT"


def test_more_than_captured_restocks_nothing(shop, shipped_order, ful):
    movements = StockMovement.objects.count()
    error = ful.refused(
        refunds_url(shipped_order.number),
        {"amount": "9999.00", "reason": "too much", "lines": [LINE]},
        400,
        "VALIDATION_FAILED",
    )
    assert error["details"][0]["code"] == "REFUND_EXCEEDS_CAPTURED"
    assert StockMovement.objects.count() == movements
    assert line(shipped_order, "HOODIE-GREY-M").quantity_returned == 0


def test_the_same_idempotency_key_restocks_once(shop, shipped_order, ful):
    body = {"reason": "torn", "lines": [LINE]}
    first = ful.api.post(
        refunds_url(shipped_order.number), body, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
    )
    again = ful.api.post(
        refunds_url(shipped_order.number), body, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
    )
    assert first.status_code == 201, first.json()
    assert again.status_code == 201, again.json()
    assert Refund.objects.count() == 1
    assert StockMovement.objects.filter(kind=MovementKind.RETURN).count() == 1
    assert line(shipped_order, "HOODIE-GREY-M").quantity_returned == 1


def test_the_schema_documents_refund_lines(staff_api):
    schema = staff_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "RESTOCK_QUANTITY_EXCEEDED" in schema.content.decode()
    assert "restock" in schema.content.decode()


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_restock_more_than_shipped(
    shop, shipped_order, client_for, staff_user
):
    order = shipped_order
    results: list[int] = []
    barrier = threading.Barrier(2)

    def refund():
        try:
            api = client_for(staff_user)
            barrier.wait()
            response = api.post(
                refunds_url(order.number),
                {"reason": "race", "lines": [LINE]},
                format="json",
            )
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 400]
    assert StockMovement.objects.filter(kind=MovementKind.RETURN).count() == 1
    assert line(order, "HOODIE-GREY-M").quantity_returned == 1
    assert Refund.objects.count() == 1
    assert_stock_consistent()


def test_admin_order_page_shows_cancelled_and_returned_units(
    shipped_order, ful, staff_user, client
):
    order = shipped_order
    response = ful.post(
        refunds_url(order.number),
        {
            "amount": "5.00",
            "reason": "both ways",
            "lines": [
                {"sku": "TSHIRT-RED-M", "quantity": 2, "restock": "cancel"},
                {"sku": "HOODIE-GREY-M", "quantity": 1, "restock": "return"},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    client.force_login(staff_user)
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "Quantity cancelled" in page and "Quantity returned" in page
    shown = [
        (kind, int(units))
        for kind, units in re.findall(r'field-quantity_(cancelled|returned)">\s*<p>(\d+)</p>', page)
    ]
    # T-shirt line: 2 cancelled, 0 returned; hoodie line: 0 cancelled, 1 returned.
    assert shown == [("cancelled", 2), ("returned", 0), ("cancelled", 0), ("returned", 1)]
