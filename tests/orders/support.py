"""Helpers and fixtures shared by tests/orders, tests/api and tests/inventory.

The conftest of each of those packages imports the fixtures from here, so a
test anywhere in them can ask for `shop`, `place`, `snapshot` and friends."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.apps import apps
from django.db.models import F, Sum

from inventory.models import MovementKind, Reservation, ReservationStatus, StockLevel, StockMovement
from inventory.services import stock_adjust
from orders.models import PromoCode
from tests.factories import (
    PromoCodeFactory,
    WarehouseFactory,
    in_market,
    priced_product,
    us_market,
)

ORDERS_URL = "/api/v1/orders/"

US_ADDRESS = {
    "name": "Ana Cruz",
    "phone": "+14155550100",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}
IN_ADDRESS = {
    "name": "Ravi Kumar",
    "phone": "+919876543210",
    "line1": "12 MG Road",
    "line2": "",
    "city": "Mumbai",
    "region": "MH",
    "postal_code": "400001",
    "country": "IN",
}
ADDRESSES = {"US": US_ADDRESS, "IN": IN_ADDRESS}


def order_body(market: str = "US", lines=(("TSHIRT-RED-M", 1),), /, **overrides) -> dict:
    """A valid POST /orders/ body (API.md example shape); overrides win."""
    body = {
        "market": market,
        "items": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        "shipping_method": "standard",
        "shipping_address": copy.deepcopy(ADDRESSES.get(market, US_ADDRESS)),
        "payment_method": "card",
        "payment_token": "tok_visa",
    }
    body.update(overrides)
    return body


def order_url(number: str, action: str = "") -> str:
    return f"{ORDERS_URL}{number}/" + (f"{action}/" if action else "")


# --- stock -----------------------------------------------------------------------


def stock_in(product, warehouse, units: int, actor=None) -> StockLevel:
    """Receive units through the service, so the ledger covers all of on_hand."""
    level, _ = stock_adjust(
        product=product,
        warehouse=warehouse,
        quantity=units,
        actor=actor,
        reason="test receipt",
        kind=MovementKind.RECEIPT,
    )
    return level


def product(sku: str, prices: dict[str, str], stock: dict | None = None, *, active: bool = True):
    """A priced product whose stock ({warehouse: units}) arrives as ledger receipts."""
    item = priced_product(sku, prices, active=active)
    for warehouse, units in (stock or {}).items():
        stock_in(item, warehouse, units)
    return item


def level_of(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def assert_ledger_agrees(levels=None) -> None:
    """For every stock level: ledger sums equal on_hand/reserved, reserved equals
    the open reservations, and nothing is negative or oversold."""
    levels = list(levels) if levels is not None else list(StockLevel.objects.all())
    for level in levels:
        level.refresh_from_db()
        ledger = StockMovement.objects.filter(
            product_id=level.product_id, warehouse_id=level.warehouse_id
        ).aggregate(on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
        held = Reservation.objects.filter(
            stock_level=level,
            status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED],
        ).aggregate(units=Sum(F("quantity") - F("quantity_fulfilled")))
        assert (ledger["on_hand"] or 0) == level.on_hand, f"on_hand ledger of {level}"
        assert (ledger["reserved"] or 0) == level.reserved, f"reserved ledger of {level}"
        assert (held["units"] or 0) == level.reserved, f"reservations of {level}"
        assert level.reserved >= 0, level
        assert level.on_hand - level.reserved >= 0, level


# --- "nothing was written" ---------------------------------------------------------


def snapshot() -> dict:
    """Row counts of every orders/inventory/payments model, each stock level's
    on_hand/reserved and each promo's times_used."""
    counts = {
        model._meta.label: model._default_manager.count()
        for label in ("orders", "inventory", "payments")
        for model in apps.get_app_config(label).get_models()
    }
    return {
        "counts": counts,
        "levels": {lv.pk: (lv.on_hand, lv.reserved) for lv in StockLevel.objects.all()},
        "promos": dict(PromoCode.objects.values_list("code", "times_used")),
    }


def assert_unchanged(before: dict) -> None:
    after = snapshot()
    assert after["levels"] == before["levels"], "stock levels changed"
    assert after["promos"] == before["promos"], "promo times_used changed"
    changed = {
        label: (before["counts"][label], count)
        for label, count in after["counts"].items()
        if before["counts"][label] != count
    }
    assert not changed, f"rows were written: {changed}"


# --- errors ------------------------------------------------------------------------


def assert_error(response, status: int, code: str) -> dict:
    """The API.md error shape; returns `error` for further checks."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert "Traceback" not in response.content.decode()
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for item in error["details"]:
        assert set(item) == {"field", "code", "message"}, item
        assert isinstance(item["message"], str) and item["message"]
    return error


def detail_pairs(error: dict) -> list[tuple[str | None, str]]:
    return [(d["field"], d["code"]) for d in error["details"]]


# --- fixtures ------------------------------------------------------------------------


@dataclass
class Shop:
    """US (8% added) and IN (18% included) markets as in API.md, one warehouse
    each, a few products with ledger-backed stock, and WELCOME10."""

    us: object
    india: object
    us_wh: object
    in_wh: object
    tshirt: object
    hoodie: object
    promo: object

    def product(self, sku: str, us: str | None = None, inr: str | None = None, units: int = 20):
        prices = {k: v for k, v in (("US", us), ("IN", inr)) if v is not None}
        stock = {}
        if us is not None:
            stock[self.us_wh] = units
        if inr is not None:
            stock[self.in_wh] = units
        return product(sku, prices, stock)


@pytest.fixture
def shop(db) -> Shop:
    us = us_market()
    india = in_market()
    us_wh = WarehouseFactory(code="US-EAST", country="US", priority=10, markets=["US"])
    in_wh = WarehouseFactory(code="IN-MUM", country="IN", priority=10, markets=["IN"])
    tshirt = product("TSHIRT-RED-M", {"US": "19.99", "IN": "1499.00"}, {us_wh: 50, in_wh: 50})
    hoodie = product("HOODIE-GREY-M", {"US": "49.00", "IN": "3499.00"}, {us_wh: 20, in_wh: 20})
    promo = PromoCodeFactory(code="WELCOME10", kind="percent", value=Decimal("10"))
    return Shop(us, india, us_wh, in_wh, tshirt, hoodie, promo)


@pytest.fixture
def place(django_capture_on_commit_callbacks):
    """POST /orders/ and, by default, run what was queued on commit (the eager
    confirmation task), as a real request would once its transaction commits."""

    def _place(client, body, *, key: str | None = None, confirm: bool = True, **extra):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
        with django_capture_on_commit_callbacks(execute=confirm):
            return client.post(ORDERS_URL, body, format="json", **headers, **extra)

    return _place


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run a block and then its on-commit callbacks: `with on_commit(): ...`."""

    def _ctx():
        return django_capture_on_commit_callbacks(execute=True)

    return _ctx
