"""Exchanges: a return that asks for a replacement gets, on receipt, a
zero-total order for what came back, with its stock reserved like any order;
short of stock it stays `received` with REPLACEMENT_OUT_OF_STOCK, and staff
may retry later or refund instead."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import Reservation, ReservationStatus
from inventory.services import stock_adjust
from orders.models import Order, OrderEvent
from payments.models import Payment, Refund
from returns.models import ReturnRequest
from tests.orders.support import assert_error, assert_ledger_agrees, detail_pairs, level_of, product

from .support import delivered_order, receive, return_url, walk_to_pickup

pytestmark = pytest.mark.django_db


def exchange(client, order, sku: str, quantity: int, replacement_sku: str):
    body = {
        "order": order.number,
        "reason": "defective",
        "resolution": "replacement",
        "items": [{"sku": sku, "quantity": quantity, "replacement_sku": replacement_sku}],
    }
    return client.post("/api/v1/returns/", body, format="json")


@pytest.fixture
def tshirt_blue(shop):
    """Another SKU at the T-shirt's price, in stock."""
    return product("TSHIRT-BLUE-M", {"US": "19.99"}, {shop.us_wh: 5})


def test_exchange_for_another_sku_at_the_same_price(
    shop, customer, customer_api, staff_api, tshirt_blue, notified
):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 2)])
    response = exchange(customer_api, order, "TSHIRT-RED-M", 2, "TSHIRT-BLUE-M")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["resolution"] == "replacement"
    assert body["items"][0]["replacement_sku"] == "TSHIRT-BLUE-M"
    number = body["number"]

    walk_to_pickup(staff_api, number)
    response = receive(staff_api, number, [("TSHIRT-RED-M", 2, "damaged")])
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "processed"
    assert body["replacement_error"] == ""
    replacement = Order.objects.get(number=body["replacement_order"])

    assert replacement.status == "confirmed"
    assert replacement.customer == customer
    assert (replacement.source, replacement.payment_method) == ("admin", "replacement")
    assert (replacement.subtotal, replacement.total) == (Decimal("0.00"), Decimal("0.00"))
    assert replacement.shipping_address == order.shipping_address
    [line] = replacement.lines.all()
    assert (line.sku, line.quantity, line.unit_price, line.line_total) == (
        "TSHIRT-BLUE-M",
        2,
        Decimal("19.99"),
        Decimal("0.00"),
    )
    assert not Payment.objects.filter(order=replacement).exists()  # nothing to charge
    [reservation] = Reservation.objects.filter(order_line__order=replacement)
    assert (reservation.quantity, reservation.status) == (2, ReservationStatus.COMMITTED)
    assert level_of(tshirt_blue, shop.us_wh).reserved == 2
    assert f"return {number}" in OrderEvent.objects.filter(order=replacement).first().reason
    assert_ledger_agrees()

    # The original order records the units as returned; no money moves.
    order.refresh_from_db()
    assert order.status == "returned"
    assert not Refund.objects.exists()
    assert (replacement.number, "confirmed") in [(n, e) for n, e, _ in notified]
    # Settled by the replacement: refunding it as well is a conflict.
    again = staff_api.post(return_url(number, "refund"), {}, format="json")
    assert_error(again, 409, "TRANSITION_NOT_ALLOWED")


def test_replacement_sku_must_cost_the_same(shop, customer, customer_api):
    product("TSHIRT-GOLD-M", {"US": "29.99"}, {shop.us_wh: 5})
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 1)])
    response = exchange(customer_api, order, "TSHIRT-RED-M", 1, "TSHIRT-GOLD-M")
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [("items[0].replacement_sku", "REPLACEMENT_PRICE_MISMATCH")]


def test_out_of_stock_keeps_the_return_received_then_refund_instead(
    shop, customer, customer_api, staff_api, tshirt_blue, on_commit
):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 1)])
    stock_adjust(product=tshirt_blue, warehouse=shop.us_wh, quantity=-5, actor=None, reason="gone")
    number = exchange(customer_api, order, "TSHIRT-RED-M", 1, "TSHIRT-BLUE-M").json()["number"]
    walk_to_pickup(staff_api, number)
    orders_before = Order.objects.count()

    response = receive(staff_api, number, [("TSHIRT-RED-M", 1, "resellable")])
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["replacement_order"], body["replacement_error"]) == (
        "received",
        None,
        "REPLACEMENT_OUT_OF_STOCK",
    )
    assert Order.objects.count() == orders_before  # the half-made order was rolled back
    assert level_of(tshirt_blue, shop.us_wh).reserved == 0
    # The receipt itself stands: the returned unit is back on hand.
    assert level_of(shop.tshirt, shop.us_wh).on_hand == 50
    assert_ledger_agrees()

    retry = staff_api.post(return_url(number, "replace"), {}, format="json")
    error = assert_error(retry, 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [("items", "REPLACEMENT_OUT_OF_STOCK")]

    with on_commit():
        response = staff_api.post(return_url(number, "refund"), {}, format="json")
    assert response.status_code == 200, response.json()
    body = customer_api.get(return_url(number)).json()
    # 19.99 + 8% tax, and the 5.99 shipping back since the item was defective.
    assert (body["status"], body["resolution"], body["refund_amount"]) == (
        "refunded",
        "refund",
        "27.58",
    )


def test_retry_once_stock_is_back(shop, customer, customer_api, staff_api, tshirt_blue):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 1)])
    stock_adjust(product=tshirt_blue, warehouse=shop.us_wh, quantity=-5, actor=None, reason="gone")
    number = exchange(customer_api, order, "TSHIRT-RED-M", 1, "TSHIRT-BLUE-M").json()["number"]
    walk_to_pickup(staff_api, number)
    receive(staff_api, number, [("TSHIRT-RED-M", 1, "damaged")])
    stock_adjust(product=tshirt_blue, warehouse=shop.us_wh, quantity=3, actor=None, reason="in")

    body = staff_api.post(return_url(number, "replace"), {}, format="json").json()
    assert (body["status"], body["replacement_error"]) == ("processed", "")
    rr = ReturnRequest.objects.get(number=number)
    assert rr.replacement_order.lines.get().sku == "TSHIRT-BLUE-M"
    assert level_of(tshirt_blue, shop.us_wh).reserved == 1


def test_replacement_order_ships_and_is_delivered_with_nothing_to_capture(
    shop,
    customer,
    customer_api,
    staff_api,
    tshirt_blue,
    notified,
    django_capture_on_commit_callbacks,
):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 1)])
    number = exchange(customer_api, order, "TSHIRT-RED-M", 1, "TSHIRT-BLUE-M").json()["number"]
    walk_to_pickup(staff_api, number)
    replacement = Order.objects.get(
        number=receive(staff_api, number, [("TSHIRT-RED-M", 1, "resellable")]).json()[
            "replacement_order"
        ]
    )

    with django_capture_on_commit_callbacks(execute=True):
        created = staff_api.post(
            f"/api/v1/orders/{replacement.number}/shipments/",
            {"items": [{"sku": "TSHIRT-BLUE-M", "quantity": 1}]},
            format="json",
        )
        assert created.status_code == 201, created.json()
        shipment = created.json()["number"]
        shipped = staff_api.post(
            f"/api/v1/shipments/{shipment}/ship/",
            {"carrier": "manual", "tracking_number": "RPL-1"},
            format="json",
        )
        assert shipped.status_code == 200, shipped.json()
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            staff_api.post(f"/api/v1/shipments/{shipment}/deliver/", {}, format="json").status_code
            == 200
        )

    replacement.refresh_from_db()
    assert replacement.status == "delivered"
    assert replacement.payment_status == "captured"
    assert not Payment.objects.filter(order=replacement).exists()
    assert_ledger_agrees()
