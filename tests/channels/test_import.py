"""Importing marketplace orders: once per (channel, external id), priced as the
channel says (differences flagged), stock reserved like any order, the money
recorded as the channel reports it, and whatever cannot be imported kept."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from inventory.models import MovementKind, Reservation, StockMovement
from orders.models import ChannelOrder, Order, OrderEvent, OrderSource
from payments.models import Payment
from tests.orders.support import (
    assert_error,
    assert_ledger_agrees,
    detail_pairs,
    level_of,
    stock_in,
)

from .conftest import URL, channel_payload, sign

pytestmark = pytest.mark.django_db

D = Decimal


def test_imported_once_then_redelivery_is_a_200_with_the_same_body(shop, deliver):
    first = deliver(channel_payload())
    assert first.status_code == 201, first.content
    body = first.json()
    # The order as imported (pending); it has been confirmed since, but the
    # redelivery below still answers with the very same body.
    assert body == {"number": body["number"], "status": "pending"}
    assert Order.objects.get(number=body["number"]).status == "confirmed"
    assert body["number"].startswith("US-")
    movements = StockMovement.objects.count()

    again = deliver(channel_payload())

    assert again.status_code == 200, again.content
    assert again.json() == body
    assert Order.objects.count() == 1
    assert ChannelOrder.objects.count() == 1
    assert StockMovement.objects.count() == movements  # nothing reserved twice
    assert level_of(shop.tshirt, shop.us_wh).reserved == 1
    assert ChannelOrder.objects.get().attempts == 1  # the redelivery changed nothing


def test_the_order_is_the_channels(shop, deliver):
    response = deliver(channel_payload())
    order = Order.objects.get(number=response.json()["number"])
    row = ChannelOrder.objects.get()

    assert (row.channel, row.external_id, row.status, row.order_id) == (
        "tiktok",
        "TT-5512",
        "imported",
        order.pk,
    )
    assert row.raw_payload == channel_payload()
    assert '"external_id": "TT-5512"' in row.raw_body
    assert (order.source, order.channel) == (OrderSource.CHANNEL, "tiktok")
    assert order.shipping_address["line1"] == "1 Main St"
    assert order.shipping_method == "standard"  # the market's cheapest, none was named
    # Priced as the channel says: 19.99 + 0.00 shipping + 1.60 tax = 21.59.
    assert (order.subtotal, order.shipping, order.tax, order.total) == (
        D("19.99"),
        D("0.00"),
        D("1.60"),
        D("21.59"),
    )
    line = order.lines.get()
    assert (line.sku, line.quantity, line.unit_price, line.line_total) == (
        "TSHIRT-RED-M",
        1,
        D("19.99"),
        D("19.99"),
    )
    # The buyer became a customer who cannot log in.
    buyer = order.customer
    assert buyer.username == "tiktok:ana@example.com"
    assert (buyer.email, buyer.first_name, buyer.last_name) == ("ana@example.com", "Ana", "Cruz")
    assert not buyer.has_usable_password()
    assert hasattr(buyer, "profile")
    # Confirmed by the worker like any order; the channel collected the money.
    assert order.status == "confirmed"
    payment = Payment.objects.get(order=order)
    assert (order.payment_method, order.payment_status) == ("channel", "captured")
    assert (payment.gateway, payment.status, payment.amount_captured) == (
        "manual",
        "captured",
        D("21.59"),
    )
    reasons = list(order.events.values_list("reason", flat=True))
    assert "imported from tiktok order TT-5512 (paid on the channel)" in reasons


def test_the_same_buyer_is_one_customer_per_channel(shop, deliver):
    deliver(channel_payload("TT-1"))
    deliver(channel_payload("TT-2", buyer={"name": "Ana", "email": "ANA@example.com"}))
    deliver(channel_payload("SH-1"), channel="shopee", secret="s9")
    orders = Order.objects.order_by("pk")
    assert [o.customer.username for o in orders] == [
        "tiktok:ana@example.com",
        "tiktok:ana@example.com",
        "shopee:ana@example.com",
    ]
    assert get_user_model().objects.filter(email="ana@example.com").count() == 2


def test_the_same_external_id_on_another_channel_is_another_order(shop, deliver):
    assert deliver(channel_payload("X-1")).status_code == 201
    assert deliver(channel_payload("X-1"), channel="shopee", secret="s9").status_code == 201
    assert Order.objects.count() == 2


def test_stock_is_reserved_with_ledger_rows(shop, deliver):
    payload = channel_payload(
        items=[
            {"sku": "TSHIRT-RED-M", "quantity": 2, "unit_price": "19.99"},
            {"sku": "HOODIE-GREY-M", "quantity": 1, "unit_price": "49.00"},
        ],
        total="95.02",
    )
    response = deliver(payload)
    assert response.status_code == 201, response.content
    number = response.json()["number"]

    ledger = StockMovement.objects.filter(reference=number, kind=MovementKind.RESERVATION)
    assert sorted((m.product.sku, m.reserved_delta) for m in ledger) == [
        ("HOODIE-GREY-M", 1),
        ("TSHIRT-RED-M", 2),
    ]
    assert Reservation.objects.filter(order_line__order__number=number).count() == 2
    assert level_of(shop.tshirt, shop.us_wh).reserved == 2
    assert level_of(shop.hoodie, shop.us_wh).reserved == 1
    assert_ledger_agrees()


def test_one_line_per_unit_is_merged(shop, deliver):
    unit = {"sku": "TSHIRT-RED-M", "quantity": 1, "unit_price": "19.99"}
    response = deliver(channel_payload(items=[unit, unit, unit], total="64.77"))
    assert response.status_code == 201, response.content
    line = Order.objects.get().lines.get()
    assert (line.quantity, line.line_total) == (3, D("59.97"))
    assert level_of(shop.tshirt, shop.us_wh).reserved == 3


# --- prices -------------------------------------------------------------------------------


def test_price_differences_are_flagged_not_refused(shop, deliver):
    payload = channel_payload(
        items=[{"sku": "TSHIRT-RED-M", "quantity": 2, "unit_price": "17.99"}],
        shipping="0.00",
        total="38.86",
    )
    response = deliver(payload)
    assert response.status_code == 201, response.content
    order = Order.objects.get()
    line = order.lines.get()
    assert (line.unit_price, line.line_total) == (D("17.99"), D("35.98"))
    assert (order.subtotal, order.tax, order.total) == (D("35.98"), D("2.88"), D("38.86"))

    row = ChannelOrder.objects.get()
    # Ours: 2 × 19.99 = 39.98, standard shipping 5.99 (free only over 50), 8% tax 3.20.
    assert row.price_differences == [
        {
            "field": "items[0].unit_price",
            "sku": "TSHIRT-RED-M",
            "channel": "17.99",
            "ours": "19.99",
        },
        {"field": "subtotal", "channel": "35.98", "ours": "39.98"},
        {"field": "shipping", "channel": "0.00", "ours": "5.99"},
        {"field": "tax", "channel": "2.88", "ours": "3.20"},
        {"field": "total", "channel": "38.86", "ours": "49.17"},
    ]
    note = OrderEvent.objects.get(order=order, reason__startswith="channel prices differ")
    assert "items[0].unit_price TSHIRT-RED-M 17.99 (ours 19.99)" in note.reason
    assert "total 38.86 (ours 49.17)" in note.reason
    assert order.payment.amount_captured == D("38.86")  # the channel's total, as it says


def test_matching_prices_flag_nothing(shop, deliver):
    # 3 × 19.99 = 59.97: free shipping over 50, 8% tax 4.80, total 64.77, as ours.
    payload = channel_payload(
        items=[{"sku": "TSHIRT-RED-M", "quantity": 3, "unit_price": "19.99"}], total="64.77"
    )
    assert deliver(payload).status_code == 201
    assert ChannelOrder.objects.get().price_differences == []
    assert not OrderEvent.objects.filter(reason__startswith="channel prices differ").exists()


def test_tax_included_market(shop, deliver):
    payload = channel_payload(
        market="IN",
        shipping_address={
            "name": "Ravi Kumar",
            "phone": "+919876543210",
            "line1": "12 MG Road",
            "city": "Mumbai",
            "region": "MH",
            "postal_code": "400001",
            "country": "IN",
        },
        items=[{"sku": "TSHIRT-RED-M", "quantity": 1, "unit_price": "1499.00"}],
        shipping="0.00",
        total="1499.00",
    )
    response = deliver(payload)
    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert order.number.startswith("IN-")
    # Free shipping over 999.00; 18% included in 1499.00 is 228.66, reported, not added.
    assert (order.currency, order.tax, order.total) == ("INR", D("228.66"), D("1499.00"))
    assert ChannelOrder.objects.get().price_differences == []
    assert level_of(shop.tshirt, shop.in_wh).reserved == 1


def test_unpaid_is_cash_on_delivery(shop, deliver):
    assert deliver(channel_payload(paid=False)).status_code == 201
    order = Order.objects.get()
    assert (order.payment_method, order.payment_status) == ("cod", "pending")
    assert (order.payment.gateway, order.payment.status) == ("manual", "pending")
    reasons = list(order.events.values_list("reason", flat=True))
    assert "imported from tiktok order TT-5512 (cash on delivery)" in reasons


def test_a_named_shipping_method_is_used(shop, deliver):
    response = deliver(channel_payload(shipping_method="express", shipping="14.99", total="36.58"))
    assert response.status_code == 201, response.content
    assert Order.objects.get().shipping_method == "express"
    assert ChannelOrder.objects.get().price_differences == []


# --- held ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"items": [{"sku": "NOPE-1", "quantity": 1, "unit_price": "5.00"}]}, "PRODUCT_NOT_FOUND"),
        ({"market": "XX"}, "MARKET_NOT_FOUND"),
        ({"shipping_method": "drone"}, "SHIPPING_METHOD_NOT_FOUND"),
        (
            {"items": [{"sku": "TSHIRT-RED-M", "quantity": 51, "unit_price": "19.99"}]},
            "INSUFFICIENT_STOCK",
        ),
    ],
)
def test_what_cannot_be_placed_now_is_held_and_kept(shop, deliver, overrides, reason):
    levels = {lv: (lv.on_hand, lv.reserved) for lv in [level_of(shop.tshirt, shop.us_wh)]}
    users = get_user_model().objects.count()
    payload = channel_payload(**overrides)

    response = deliver(payload)

    assert response.status_code == 202, response.content
    assert response.json() == {"status": "held", "reason": reason}
    row = ChannelOrder.objects.get()
    assert (row.status, row.reason, row.order, row.attempts) == ("held", reason, None, 1)
    assert row.raw_payload == payload
    assert row.errors and row.errors[0]["code"] == reason
    assert row.message
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    assert get_user_model().objects.count() == users  # the buyer's account was not kept
    for level, figures in levels.items():
        level.refresh_from_db()
        assert (level.on_hand, level.reserved) == figures
    assert_ledger_agrees()


def test_no_stock_is_held_and_a_redelivery_after_restock_imports_it(shop, deliver):
    payload = channel_payload(
        items=[{"sku": "TSHIRT-RED-M", "quantity": 60, "unit_price": "19.99"}], total="1295.35"
    )
    held = deliver(payload)
    assert held.json() == {"status": "held", "reason": "INSUFFICIENT_STOCK"}
    again = deliver(payload)  # a redelivery tries again: still short
    assert again.status_code == 202
    assert ChannelOrder.objects.get().attempts == 2

    stock_in(shop.tshirt, shop.us_wh, 10)
    imported = deliver(payload)

    assert imported.status_code == 201, imported.content
    row = ChannelOrder.objects.get()
    assert (row.status, row.reason, row.attempts) == ("imported", "", 3)
    assert row.order.number == imported.json()["number"]
    assert level_of(shop.tshirt, shop.us_wh).reserved == 60
    assert_ledger_agrees()


# --- unreadable --------------------------------------------------------------------------------


def test_malformed_json_is_a_400_and_kept(shop, deliver):
    response = deliver(b'{"external_id": "TT-1", ')
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [(None, "MALFORMED_JSON")]
    row = ChannelOrder.objects.get()
    assert (row.status, row.reason, row.external_id, row.raw_payload) == (
        "failed",
        "VALIDATION_FAILED",
        None,
        None,
    )
    assert row.raw_body == '{"external_id": "TT-1", '
    assert not Order.objects.exists()


def test_every_unreadable_delivery_is_kept(shop, deliver):
    bodies = [
        b"[1, 2]",
        b"null",
        b'{"external_id": ""}',
        b'{"external_id": "TT-1", "total": NaN}',
        b'{"external_id": "TT-\\u0000"}',
        b"\xff\xfe not utf-8",
        b"",
        b"[" * 5000 + b"]" * 5000,  # deeper than Python's parser stack
        b'{"external_id": "TT-9", "x": ' + b"[" * 900 + b"]" * 900 + b"}",  # just under it
    ]
    for body in bodies:
        assert_error(deliver(body), 400, "VALIDATION_FAILED")
    assert ChannelOrder.objects.filter(status="failed", external_id=None).count() == len(bodies)
    assert not Order.objects.exists()


def test_missing_fields_are_a_400_then_a_corrected_delivery_imports(shop, deliver):
    broken = channel_payload()
    del broken["items"]
    del broken["shipping_address"]["city"]
    broken["buyer"]["email"] = "not-an-email"

    response = deliver(broken)

    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert sorted(detail_pairs(error)) == [
        ("buyer.email", "INVALID"),
        ("items", "ITEMS_REQUIRED"),
        ("shipping_address.city", "ADDRESS_INCOMPLETE"),
    ]
    row = ChannelOrder.objects.get()
    assert (row.external_id, row.status, row.reason) == ("TT-5512", "failed", "VALIDATION_FAILED")
    assert row.raw_payload == broken

    fixed = deliver(channel_payload())

    assert fixed.status_code == 201, fixed.content
    row.refresh_from_db()
    assert (row.status, row.attempts, row.errors) == ("imported", 2, [])
    assert row.raw_payload == channel_payload()


def test_one_sku_at_two_prices_is_refused(shop, deliver):
    payload = channel_payload(
        items=[
            {"sku": "TSHIRT-RED-M", "quantity": 1, "unit_price": "19.99"},
            {"sku": "TSHIRT-RED-M", "quantity": 1, "unit_price": "9.99"},
        ]
    )
    error = assert_error(deliver(payload), 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [("items[1].sku", "DUPLICATE_ITEM")]


def test_an_imported_order_ignores_later_deliveries_even_broken_ones(shop, deliver):
    first = deliver(channel_payload())
    later = channel_payload(total="0.01")
    del later["items"]
    response = deliver(later)
    assert response.status_code == 200
    assert response.json() == first.json()
    row = ChannelOrder.objects.get()
    assert row.raw_payload == channel_payload()  # what was imported, untouched


def test_the_payment_is_settled_before_the_confirmation_is_queued(
    shop, api, django_capture_on_commit_callbacks
):
    """So a worker confirming the order never mirrors a stale "pending" payment."""
    body = json.dumps(channel_payload()).encode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            URL.format(channel="tiktok"),
            data=body,
            content_type="application/json",
            HTTP_X_ORDERLY_SIGNATURE=sign(body),
        )
    assert response.status_code == 201
    order = Order.objects.get()
    assert (order.status, order.payment.status) == ("pending", "pending")

    callbacks[0]()  # the first thing run on commit

    order.refresh_from_db()
    order.payment.refresh_from_db()
    assert (order.status, order.payment.status, order.payment_status) == (
        "pending",
        "captured",
        "captured",
    )
    for callback in callbacks[1:]:  # then the confirmation
        callback()
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("confirmed", "captured")


def test_a_broken_redelivery_does_not_replace_a_held_one(shop, deliver):
    payload = channel_payload(items=[{"sku": "NOPE-1", "quantity": 1, "unit_price": "5.00"}])
    assert deliver(payload).status_code == 202
    broken = dict(payload, total="lots")

    assert_error(deliver(broken), 400, "VALIDATION_FAILED")

    held = ChannelOrder.objects.get(external_id="TT-5512")
    assert (held.status, held.reason, held.raw_payload, held.attempts) == (
        "held",
        "PRODUCT_NOT_FOUND",
        payload,
        1,
    )
    kept = ChannelOrder.objects.get(external_id=None)
    assert (kept.status, kept.raw_payload) == ("failed", broken)
    assert kept.errors[0]["field"] == "total"


def test_the_signature_hex_may_be_upper_case(shop, deliver):
    body = json.dumps(channel_payload()).encode()
    prefix, hexdigest = sign(body).split("=")
    response = deliver(body, signature=f"{prefix}={hexdigest.upper()}")
    assert response.status_code == 201, response.content
