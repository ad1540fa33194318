"""`manage.py seed_demo`: the API.md demo data, idempotent, and usable: a fresh
customer's small order is confirmed, an order above the review amount held."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from inventory.models import StockLevel, WarehouseMarket
from orders.models import Market, PromoCode
from tests.orders.support import order_body, order_url

D = Decimal


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = [
        model
        for label in ("orders", "inventory", "payments")
        for model in apps.get_app_config(label).get_models()
    ]
    models += [get_user_model(), Group, Token]
    return {m._meta.label: m._default_manager.count() for m in models}


@pytest.fixture
def seeded(db):
    seed()


def test_runs_twice_without_duplicating_anything(db):
    seed()
    first = counts()
    levels = dict(StockLevel.objects.values_list("pk", "on_hand"))
    seed()
    assert counts() == first
    assert dict(StockLevel.objects.values_list("pk", "on_hand")) == levels
    assert first["orders.Market"] == 3
    assert first["inventory.StockMovement"] > 0


def test_markets_as_api_md(seeded):
    expected = {
        # code: currency, tax, included, methods, cod limit, review, shipping
        "US": ("USD", "0.0800", False, ["card"], None, "1000.00",
               {("standard", "5.99", "50.00"), ("express", "14.99", None)}),
        "IN": ("INR", "0.1800", True, ["card", "upi", "cod"], "50000.00", "100000.00",
               {("standard", "49.00", "999.00"), ("express", "149.00", None)}),
        "PH": ("PHP", "0.1200", True, ["card", "cod"], "500000.00", "50000.00",
               {("standard", "100.00", "1500.00")}),
    }  # fmt: skip
    assert set(Market.objects.values_list("code", flat=True)) == set(expected)
    for code, (cur, tax, incl, methods, cod, review, shipping) in expected.items():
        market = Market.objects.get(code=code)
        assert market.currency == cur
        assert market.tax_rate == D(tax)
        assert market.prices_include_tax is incl
        assert sorted(market.payment_methods) == sorted(methods)
        assert market.cod_limit == (D(cod) if cod else None)
        assert market.review_amount == D(review)
        assert market.active
        assert {
            (m.code, f"{m.price:.2f}", None if m.free_over is None else f"{m.free_over:.2f}")
            for m in market.shipping_methods.filter(active=True)
        } == shipping


def test_markets_endpoint_after_seeding(seeded, api):
    rows = {m["code"]: m for m in api.get("/api/v1/markets/").json()["results"]}
    assert rows["US"]["tax_rate"] == "0.0800"
    assert rows["IN"]["cod_limit"] == "50000.00"
    assert rows["PH"]["currency"] == "PHP"


def test_promo_and_warehouses(seeded, api):
    promo = PromoCode.objects.get(code="WELCOME10")
    assert (promo.kind, promo.value, promo.min_subtotal, promo.active) == (
        "percent",
        D("10"),
        D("20"),
        True,
    )
    served = set(
        WarehouseMarket.objects.filter(warehouse__active=True).values_list("market_code", flat=True)
    )
    assert served >= {"US", "IN", "PH"}
    for code in ("US", "IN", "PH"):
        products = api.get("/api/v1/products/", {"market": code}).json()["results"]
        assert len(products) >= 3, code
        assert all(p["available"] > 0 for p in products), code


@pytest.fixture
def fresh_customer(seeded, api, client_for):
    def make(username: str):
        response = api.post(
            "/api/v1/auth/register/",
            {
                "username": username,
                "email": f"{username}@example.com",
                "password": "a-Strong-pass-42",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        user = get_user_model().objects.get(username=username)
        return client_for(user)

    return make


def test_small_order_by_fresh_customer_is_confirmed(fresh_customer, place):
    client = fresh_customer("newbie")
    response = place(client, order_body("US", [("TSHIRT-RED-M", 2)], promo_code="WELCOME10"))
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "44.85"
    order = client.get(order_url(response.json()["number"])).json()
    assert order["status"] == "confirmed"
    assert order["payment_status"] == "authorized"


def test_order_above_review_amount_is_held(fresh_customer, place):
    client = fresh_customer("bigspender")
    response = place(client, order_body("US", [("LAPTOP-PRO-14", 1)]))
    assert response.status_code == 201, response.json()
    assert D(response.json()["total"]) > D("1000.00")
    order = client.get(order_url(response.json()["number"])).json()
    assert order["status"] == "on_hold"


def test_india_order_below_review_is_confirmed(fresh_customer, place):
    client = fresh_customer("ravi")
    response = place(client, order_body("IN", [("TSHIRT-RED-M", 1)]))
    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "1499.00"
    assert client.get(order_url(response.json()["number"])).json()["status"] == "confirmed"


def test_second_run_keeps_orders_and_reservations(fresh_customer, place):
    client = fresh_customer("early")
    number = place(client, order_body("US", [("TSHIRT-RED-M", 3)])).json()["number"]
    level = StockLevel.objects.get(product__sku="TSHIRT-RED-M", warehouse__code="US-EAST")
    before = (level.on_hand, level.reserved)
    seed()
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == before
    assert client.get(order_url(number)).json()["status"] == "confirmed"
