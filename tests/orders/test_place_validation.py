"""Every API.md detail code for placing an order: a 400 VALIDATION_FAILED with
the right `field`, and nothing written (no order, line, reservation, ledger
row or payment; stock and promo counters untouched)."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order, PromoCode, ShippingMethod
from orders.services import OrderItemInput, order_place
from tests.factories import MarketFactory, PromoCodeFactory
from tests.orders.support import (
    ORDERS_URL,
    US_ADDRESS,
    assert_error,
    assert_unchanged,
    detail_pairs,
    order_body,
    product,
    snapshot,
)


@pytest.fixture
def catalog(shop):
    """The shop plus the awkward cases: an inactive product, one sold only in
    IN, one with 3 units left, a big-ticket IN item, and promos in every state."""
    product("OLD-TEE", {"US": "9.99"}, {shop.us_wh: 10}, active=False)
    product("IN-ONLY", {"IN": "499.00"}, {shop.in_wh: 10})
    product("LOW-3", {"US": "10.00", "IN": "800.00"}, {shop.us_wh: 3})
    product("LAPTOP", {"IN": "60000.00"}, {shop.in_wh: 5})
    now = timezone.now()
    PromoCodeFactory(code="EXPIRED5", value=Decimal("5"), valid_to=now - timedelta(days=1))
    PromoCodeFactory(code="FUTURE5", value=Decimal("5"), valid_from=now + timedelta(days=1))
    PromoCodeFactory(code="OFF5", value=Decimal("5"), active=False)
    PromoCodeFactory(code="INONLY", value=Decimal("5"), market=shop.india)
    PromoCodeFactory(code="CAPPED", value=Decimal("5"), max_uses=2, times_used=2)
    PromoCodeFactory(code="ONCE", value=Decimal("5"), max_uses_per_customer=1, min_subtotal=0)
    PromoCodeFactory(code="BIG", value=Decimal("5"), min_subtotal=Decimal("100"))
    MarketFactory(code="PH", name="Philippines", currency="PHP", country="PH", active=False)
    ShippingMethod.objects.filter(market=shop.us, code="express").update(active=False)
    return shop


def used_once(shop, customer) -> None:
    """The customer already has a (live) order that redeemed ONCE."""
    order_place(
        customer=customer,
        market_code="US",
        items=[OrderItemInput("TSHIRT-RED-M", 1)],
        shipping_method="standard",
        shipping_address=dict(US_ADDRESS),
        payment_method="card",
        payment_token="tok_visa",
        promo_code="ONCE",
    )
    assert PromoCode.objects.get(code="ONCE").times_used == 1


def us(*items, **overrides) -> dict:
    return order_body("US", items or (("TSHIRT-RED-M", 1),), **overrides)


def without(body: dict, *keys: str) -> dict:
    body = copy.deepcopy(body)
    for key in keys:
        body.pop(key)
    return body


def address(**changes) -> dict:
    """A US body whose address has `changes` applied (None deletes the key)."""
    body = us()
    for key, value in changes.items():
        if value is None:
            body["shipping_address"].pop(key)
        else:
            body["shipping_address"][key] = value
    return body


def quantity(value) -> dict:
    body = us()
    body["items"][0]["quantity"] = value
    return body


CASES = [
    # id, body, expected [(field, code)], preparation
    ("items-missing", without(us(), "items"), [("items", "ITEMS_REQUIRED")]),
    ("items-empty", us(items=[]), [("items", "ITEMS_REQUIRED")]),
    ("items-null", us(items=None), [("items", "ITEMS_REQUIRED")]),
    ("items-not-a-list", us(items="TSHIRT-RED-M"), [("items", "ITEMS_REQUIRED")]),
    (
        "51-lines",
        us(*((f"SKU-{i}", 1) for i in range(51))),
        [("items", "TOO_MANY_ITEMS")],
    ),
    ("quantity-0", quantity(0), [("items[0].quantity", "INVALID_QUANTITY")]),
    ("quantity-negative", quantity(-1), [("items[0].quantity", "INVALID_QUANTITY")]),
    ("quantity-abc", quantity("abc"), [("items[0].quantity", "INVALID_QUANTITY")]),
    ("quantity-fraction", quantity("1.5"), [("items[0].quantity", "INVALID_QUANTITY")]),
    ("quantity-null", quantity(None), [("items[0].quantity", "INVALID_QUANTITY")]),
    # API.md: quantities are integers; a string, a float or a boolean is not one.
    ("quantity-digit-string", quantity("2"), [("items[0].quantity", "INVALID_QUANTITY")]),
    ("quantity-whole-float", quantity(2.0), [("items[0].quantity", "INVALID_QUANTITY")]),
    ("quantity-float", quantity(2.5), [("items[0].quantity", "INVALID_QUANTITY")]),
    ("quantity-true", quantity(True), [("items[0].quantity", "INVALID_QUANTITY")]),
    (
        "quantity-on-second-line",
        us(items=[{"sku": "TSHIRT-RED-M", "quantity": 1}, {"sku": "HOODIE-GREY-M", "quantity": 0}]),
        [("items[1].quantity", "INVALID_QUANTITY")],
    ),
    ("quantity-101", quantity(101), [("items[0].quantity", "QUANTITY_LIMIT")]),
    (
        "duplicate-sku",
        us(("TSHIRT-RED-M", 1), ("TSHIRT-RED-M", 2)),
        [("items[1].sku", "DUPLICATE_ITEM")],
    ),
    ("unknown-sku", us(("NO-SUCH-SKU", 1)), [("items[0].sku", "PRODUCT_NOT_FOUND")]),
    (
        "sku-missing",
        us(items=[{"quantity": 1}]),
        [("items[0].sku", "PRODUCT_NOT_FOUND")],
    ),
    ("inactive-product", us(("OLD-TEE", 1)), [("items[0].sku", "PRODUCT_UNAVAILABLE")]),
    (
        "not-priced-in-market",
        us(("TSHIRT-RED-M", 1), ("IN-ONLY", 1)),
        [("items[1].sku", "PRODUCT_UNAVAILABLE")],
    ),
    (
        "insufficient-stock",
        us(("LOW-3", 5)),
        [("items[0].quantity", "INSUFFICIENT_STOCK")],
    ),
    (
        "insufficient-stock-second-line-with-promo",
        us(("TSHIRT-RED-M", 2), ("LOW-3", 4), promo_code="WELCOME10"),
        [("items[1].quantity", "INSUFFICIENT_STOCK")],
    ),
    (
        "stock-only-in-another-markets-warehouse",
        order_body("IN", [("LOW-3", 1)], payment_method="cod", payment_token=""),
        [("items[0].quantity", "INSUFFICIENT_STOCK")],
    ),
    ("unknown-market", us(market="XX"), [("market", "MARKET_NOT_FOUND")]),
    ("blank-market", us(market=""), [("market", "MARKET_NOT_FOUND")]),
    ("inactive-market", us(market="PH"), [("market", "MARKET_NOT_FOUND")]),
    (
        "unknown-payment-method",
        us(payment_method="bitcoin"),
        [("payment_method", "INVALID_PAYMENT")],
    ),
    (
        "missing-payment-method",
        without(us(), "payment_method"),
        [("payment_method", "INVALID_PAYMENT")],
    ),
    ("method-not-offered", us(payment_method="upi"), [("payment_method", "INVALID_PAYMENT")]),
    ("card-without-token", without(us(), "payment_token"), [("payment_token", "INVALID_PAYMENT")]),
    ("card-blank-token", us(payment_token=""), [("payment_token", "INVALID_PAYMENT")]),
    (
        "cod-not-offered",
        us(payment_method="cod", payment_token=""),
        [("payment_method", "COD_NOT_AVAILABLE")],
    ),
    (
        "cod-above-limit",
        order_body("IN", [("LAPTOP", 1)], payment_method="cod", payment_token=""),
        [("payment_method", "COD_NOT_AVAILABLE")],
    ),
    (
        "unknown-shipping",
        us(shipping_method="drone"),
        [("shipping_method", "SHIPPING_METHOD_NOT_FOUND")],
    ),
    (
        "inactive-shipping",
        us(shipping_method="express"),
        [("shipping_method", "SHIPPING_METHOD_NOT_FOUND")],
    ),
    (
        "missing-shipping",
        without(us(), "shipping_method"),
        [("shipping_method", "SHIPPING_METHOD_NOT_FOUND")],
    ),
    (
        "address-missing",
        without(us(), "shipping_address"),
        [("shipping_address", "ADDRESS_INCOMPLETE")],
    ),
    (
        "address-not-an-object",
        us(shipping_address="1 Main St"),
        [("shipping_address", "ADDRESS_INCOMPLETE")],
    ),
    ("address-no-name", address(name=None), [("shipping_address.name", "ADDRESS_INCOMPLETE")]),
    ("address-no-line1", address(line1=None), [("shipping_address.line1", "ADDRESS_INCOMPLETE")]),
    ("address-blank-line1", address(line1=""), [("shipping_address.line1", "ADDRESS_INCOMPLETE")]),
    ("address-no-city", address(city=None), [("shipping_address.city", "ADDRESS_INCOMPLETE")]),
    (
        "address-no-postal-code",
        address(postal_code=None),
        [("shipping_address.postal_code", "ADDRESS_INCOMPLETE")],
    ),
    (
        "address-no-country",
        address(country=None),
        [("shipping_address.country", "ADDRESS_INCOMPLETE")],
    ),
    ("address-no-phone", address(phone=None), [("shipping_address.phone", "ADDRESS_INCOMPLETE")]),
    (
        "address-unknown-country",
        address(country="ZZ"),
        [("shipping_address.country", "ADDRESS_INCOMPLETE")],
    ),
    ("phone-digits", address(phone="12345"), [("shipping_address.phone", "INVALID_PHONE")]),
    ("phone-words", address(phone="call me maybe"), [("shipping_address.phone", "INVALID_PHONE")]),
    ("phone-too-short", address(phone="+1415555"), [("shipping_address.phone", "INVALID_PHONE")]),
    ("promo-unknown", us(promo_code="NOPE"), [("promo_code", "PROMO_INVALID")]),
    (
        "promo-inactive",
        us(("HOODIE-GREY-M", 1), promo_code="OFF5"),
        [("promo_code", "PROMO_INVALID")],
    ),
    (
        "promo-other-market",
        us(("HOODIE-GREY-M", 1), promo_code="INONLY"),
        [("promo_code", "PROMO_INVALID")],
    ),
    (
        "promo-not-yet-valid",
        us(("HOODIE-GREY-M", 1), promo_code="FUTURE5"),
        [("promo_code", "PROMO_INVALID")],
    ),
    (
        "promo-expired",
        us(("HOODIE-GREY-M", 1), promo_code="EXPIRED5"),
        [("promo_code", "PROMO_EXPIRED")],
    ),
    (
        "promo-total-cap",
        us(("HOODIE-GREY-M", 1), promo_code="CAPPED"),
        [("promo_code", "PROMO_EXHAUSTED")],
    ),
    (
        "promo-per-customer-cap",
        us(("HOODIE-GREY-M", 1), promo_code="ONCE"),
        [("promo_code", "PROMO_EXHAUSTED")],
        used_once,
    ),
    (
        "promo-minimum",
        us(("TSHIRT-RED-M", 1), promo_code="WELCOME10"),  # 19.99 < 20
        [("promo_code", "PROMO_MINIMUM_NOT_MET")],
    ),
    (
        "promo-minimum-custom",
        us(("HOODIE-GREY-M", 2), promo_code="BIG"),  # 98.00 < 100
        [("promo_code", "PROMO_MINIMUM_NOT_MET")],
    ),
    ("amount-mismatch", us(expected_total="27.57"), [("expected_total", "AMOUNT_MISMATCH")]),
    (
        "several-problems-at-once",
        us(("NO-SUCH-SKU", 1), shipping_method="drone", payment_method="bitcoin"),
        [
            ("items[0].sku", "PRODUCT_NOT_FOUND"),
            ("payment_method", "INVALID_PAYMENT"),
            ("shipping_method", "SHIPPING_METHOD_NOT_FOUND"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("body", "expected", "prepare"),
    [pytest.param(c[1], c[2], c[3] if len(c) > 3 else None, id=c[0]) for c in CASES],
)
def test_rejected_with_detail_code_and_nothing_written(
    catalog, customer, customer_api, place, body, expected, prepare
):
    if prepare:
        prepare(catalog, customer)
    before = snapshot()

    response = place(customer_api, body)

    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert sorted(detail_pairs(error), key=str) == sorted(expected, key=str)
    assert_unchanged(before)


def test_insufficient_stock_message_names_units_left(catalog, customer_api, place):
    response = place(customer_api, us(("LOW-3", 5)))
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert error["details"][0]["message"] == "Only 3 left of LOW-3."


def test_insufficient_stock_after_others_reserved(catalog, customer_api, other_customer_api, place):
    assert place(other_customer_api, us(("LOW-3", 2)), confirm=False).status_code == 201
    response = place(customer_api, us(("LOW-3", 2)))
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert error["details"] == [
        {
            "field": "items[0].quantity",
            "code": "INSUFFICIENT_STOCK",
            "message": "Only 1 left of LOW-3.",
        }
    ]


def test_fifty_lines_is_not_too_many(catalog, customer_api, place):
    response = place(customer_api, us(*((f"SKU-{i}", 1) for i in range(50))))
    error = assert_error(response, 400, "VALIDATION_FAILED")
    codes = {code for _, code in detail_pairs(error)}
    assert codes == {"PRODUCT_NOT_FOUND"}


def test_quantity_100_is_allowed(catalog, customer_api, place):
    product("BULK", {"US": "1.00"}, {catalog.us_wh: 100})
    response = place(customer_api, us(("BULK", 100)), confirm=False)
    assert response.status_code == 201, response.json()
    assert response.json()["items"][0]["quantity"] == 100


def test_cod_at_the_limit_is_allowed(catalog, customer_api, place):
    product("EXACT", {"IN": "50000.00"}, {catalog.in_wh: 1})
    body = order_body("IN", [("EXACT", 1)], payment_method="cod", payment_token="")
    response = place(customer_api, body, confirm=False)
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "50000.00"


def test_per_customer_cap_is_per_customer(catalog, customer, other_customer_api, place):
    used_once(catalog, customer)
    body = us(("HOODIE-GREY-M", 1), promo_code="ONCE")
    response = place(other_customer_api, body, confirm=False)
    assert response.status_code == 201, response.json()
    assert response.json()["discount"] == "2.45"
    assert PromoCode.objects.get(code="ONCE").times_used == 2


def test_market_code_is_case_insensitive(catalog, customer_api, place):
    response = place(customer_api, us(market="us"), confirm=False)
    assert response.status_code == 201, response.json()
    assert response.json()["market"] == "US"


def test_body_that_is_not_an_object(catalog, customer_api):
    before = snapshot()
    response = customer_api.post(ORDERS_URL, [us()], format="json")
    assert_error(response, 400, "VALIDATION_FAILED")
    assert_unchanged(before)


def test_iso_territories_without_a_numbering_plan_are_countries(shop, customer_api, place):
    body = order_body("US", [("TSHIRT-RED-M", 1)])
    body["shipping_address"]["country"] = "um"  # US Minor Outlying Islands
    response = place(customer_api, body, confirm=False)
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"]["country"] == "UM"
    order = Order.objects.get(number=response.json()["number"])
    assert order.shipping_address["country"] == "UM"


def test_cash_on_delivery_takes_a_null_token_as_no_token(shop, customer_api, place):
    # Clients that send every optional field, null when unused.
    body = order_body("IN", [("TSHIRT-RED-M", 1)], payment_method="cod", payment_token=None)
    response = place(customer_api, body)
    assert response.status_code == 201, response.content
    assert response.json()["payment_method"] == "cod"
