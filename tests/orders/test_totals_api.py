"""Order totals as a client sees them in POST /api/v1/orders/ (API.md "Totals"):
a tax-added market (US-like) and a tax-included one (IN-like), with and
without WELCOME10, either side of the free-shipping threshold."""

from decimal import Decimal

import pytest

from inventory.models import ProductPrice
from orders.models import CustomerProfile, Order
from tests.factories import PromoCodeFactory
from tests.orders.support import assert_error, assert_unchanged, detail_pairs, order_body, snapshot

FIGURES = ("subtotal", "discount", "shipping", "tax", "total")


def figures(body: dict) -> tuple[str, ...]:
    return tuple(body[name] for name in FIGURES)


CASES = [
    # market, unit price, quantity, promo, (subtotal, discount, shipping, tax, total)
    pytest.param("US", "19.99", 1, None, ("19.99", "0.00", "5.99", "1.60", "27.58"), id="US-plain"),
    pytest.param(
        "US", "19.99", 2, "WELCOME10", ("39.98", "4.00", "5.99", "2.88", "44.85"), id="US-promo"
    ),
    pytest.param(
        "US", "49.99", 1, None, ("49.99", "0.00", "5.99", "4.00", "59.98"), id="US-below-free"
    ),
    pytest.param(
        "US", "25.00", 2, None, ("50.00", "0.00", "0.00", "4.00", "54.00"), id="US-at-free"
    ),
    pytest.param(
        "US",
        "55.00",
        1,
        "WELCOME10",
        ("55.00", "5.50", "5.99", "3.96", "59.45"),
        id="US-promo-takes-it-below-free",
    ),
    pytest.param(
        "US",
        "55.56",
        1,
        "WELCOME10",
        ("55.56", "5.56", "0.00", "4.00", "54.00"),
        id="US-promo-lands-at-free",
    ),
    pytest.param(
        "US",
        "30.00",
        2,
        "welcome10",
        ("60.00", "6.00", "0.00", "4.32", "58.32"),
        id="US-promo-case-insensitive-above-free",
    ),
    pytest.param(
        "IN",
        "1499.00",
        1,
        None,
        ("1499.00", "0.00", "0.00", "228.66", "1499.00"),
        id="IN-plain",
    ),
    pytest.param(
        "IN",
        "998.00",
        1,
        None,
        ("998.00", "0.00", "49.00", "152.24", "1047.00"),
        id="IN-below-free",
    ),
    pytest.param(
        "IN", "999.00", 1, None, ("999.00", "0.00", "0.00", "152.39", "999.00"), id="IN-at-free"
    ),
    pytest.param(
        "IN",
        "1100.00",
        1,
        "WELCOME10",
        ("1100.00", "110.00", "49.00", "151.02", "1039.00"),
        id="IN-promo-takes-it-below-free",
    ),
    pytest.param(
        "IN",
        "1110.00",
        1,
        "WELCOME10",
        ("1110.00", "111.00", "0.00", "152.39", "999.00"),
        id="IN-promo-lands-at-free",
    ),
    pytest.param(
        "IN",
        "1499.00",
        2,
        "WELCOME10",
        ("2998.00", "299.80", "0.00", "411.59", "2698.20"),
        id="IN-promo-above-free",
    ),
]


@pytest.mark.parametrize(("market", "price", "qty", "promo", "expected"), CASES)
def test_totals_to_the_cent(shop, customer_api, place, market, price, qty, promo, expected):
    prices = {"US": price} if market == "US" else {"IN": price}
    shop.product("ITEM-1", us=prices.get("US"), inr=prices.get("IN"))
    extra = {"promo_code": promo} if promo else {}
    response = place(customer_api, order_body(market, [("ITEM-1", qty)], **extra), confirm=False)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert figures(body) == expected
    assert body["currency"] == {"US": "USD", "IN": "INR"}[market]
    assert body["market"] == market
    assert body["status"] == "pending"
    [line] = body["items"]
    assert line["unit_price"] == price
    assert Decimal(line["line_total"]) == Decimal(price) * qty
    assert line["line_total"] == f"{Decimal(price) * qty:.2f}"
    order = Order.objects.get(number=body["number"])
    assert tuple(f"{getattr(order, name):.2f}" for name in FIGURES) == expected


@pytest.mark.parametrize(
    ("market", "price", "promo", "total"),
    [
        ("US", "19.99", None, "27.58"),
        ("US", "55.00", "WELCOME10", "59.45"),
        ("IN", "1100.00", "WELCOME10", "1039.00"),
    ],
)
def test_matching_expected_total_is_accepted(
    shop, customer_api, place, market, price, promo, total
):
    shop.product(
        "ITEM-1", us=price if market == "US" else None, inr=price if market == "IN" else None
    )
    extra = {"promo_code": promo} if promo else {}
    body = order_body(market, [("ITEM-1", 1)], expected_total=total, **extra)
    response = place(customer_api, body, confirm=False)
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == total


@pytest.mark.parametrize("expected_total", ["27.57", "27.59", "0.00", "1049.50"])
def test_expected_total_off_by_anything_is_amount_mismatch(
    shop, customer_api, place, expected_total
):
    shop.product("ITEM-1", us="19.99")  # total 27.58
    before = snapshot()
    response = place(customer_api, order_body("US", [("ITEM-1", 1)], expected_total=expected_total))
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [("expected_total", "AMOUNT_MISMATCH")]
    assert "27.58" in error["details"][0]["message"]
    assert_unchanged(before)


def test_expected_total_with_promo_must_include_the_discount(shop, customer_api, place):
    shop.product("ITEM-1", us="55.00")
    # 55.00 + 5.99 + 4.40 = 65.39 without the promo; 59.45 with it
    response = place(
        customer_api,
        order_body("US", [("ITEM-1", 1)], promo_code="WELCOME10", expected_total="65.39"),
    )
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [("expected_total", "AMOUNT_MISMATCH")]


def test_client_cannot_set_prices_or_totals(shop, customer_api, place):
    body = order_body("US", [("TSHIRT-RED-M", 1)])
    body["items"][0]["unit_price"] = "0.01"
    body.update(subtotal="0.01", total="0.01", discount="19.99", tax="0.00", shipping="0.00")
    response = place(customer_api, body, confirm=False)
    assert response.status_code == 201, response.json()
    assert figures(response.json()) == ("19.99", "0.00", "5.99", "1.60", "27.58")


def test_unit_price_is_frozen_on_the_order(shop, customer_api, place):
    response = place(customer_api, order_body("US", [("TSHIRT-RED-M", 2)]), confirm=False)
    number = response.json()["number"]
    ProductPrice.objects.filter(product=shop.tshirt, market_code="US").update(
        amount=Decimal("99.00")
    )
    detail = customer_api.get(f"/api/v1/orders/{number}/").json()
    assert detail["items"][0]["unit_price"] == "19.99"
    assert detail["subtotal"] == "39.98"
    assert detail["total"] == "49.17"  # 39.98 + 5.99 + 3.20


class TestTaxExemptCustomer:
    @pytest.fixture
    def exempt(self, customer):
        CustomerProfile.objects.filter(user=customer).update(tax_exempt=True)

    def test_tax_added_market(self, shop, exempt, customer_api, place):
        response = place(customer_api, order_body("US", [("TSHIRT-RED-M", 1)]), confirm=False)
        assert response.status_code == 201, response.json()
        assert figures(response.json()) == ("19.99", "0.00", "5.99", "0.00", "25.98")

    def test_tax_included_market(self, shop, exempt, customer_api, place):
        response = place(customer_api, order_body("IN", [("TSHIRT-RED-M", 1)]), confirm=False)
        assert response.status_code == 201, response.json()
        assert figures(response.json()) == ("1499.00", "0.00", "0.00", "0.00", "1270.34")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 19.99 − 5.00 = 14.99; shipping 5.99; tax 1.1992 → 1.20
        ("5.00", ("19.99", "5.00", "5.99", "1.20", "22.18")),
        # a fixed discount larger than the subtotal stops at the subtotal
        ("50.00", ("19.99", "19.99", "5.99", "0.00", "5.99")),
    ],
)
def test_fixed_amount_promo(shop, customer_api, place, value, expected):
    PromoCodeFactory(
        code="FIXED", kind="fixed", value=Decimal(value), market=shop.us, min_subtotal=0
    )
    body = order_body("US", [("TSHIRT-RED-M", 1)], promo_code="FIXED")
    response = place(customer_api, body, confirm=False)
    assert response.status_code == 201, response.json()
    assert figures(response.json()) == expected


def test_promo_minimum_is_inclusive(shop, customer_api, place):
    shop.product("TWENTY", us="20.00")
    body = order_body("US", [("TWENTY", 1)], promo_code="WELCOME10")
    response = place(customer_api, body, confirm=False)
    assert response.status_code == 201, response.json()
    # 20.00 − 2.00 = 18.00; shipping 5.99; tax 1.44
    assert figures(response.json()) == ("20.00", "2.00", "5.99", "1.44", "25.43")
