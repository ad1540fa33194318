"""Helpers for the fulfillment tests: confirmed orders, shipments driven
through the staff API (with on-commit work run, as after a real request's
commit), signed carrier events, and the stock/ledger invariant."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db.models import F, Sum

from fulfillment.carriers import sign
from fulfillment.models import Shipment
from inventory.models import Reservation, ReservationStatus, StockLevel, StockMovement
from inventory.reconciliation import stock_drift
from orders.models import Order
from tests.orders.support import assert_error, order_body

CARRIER_SECRET = "carrier-test-secret"
WEBHOOK_URL = "/api/v1/webhooks/carriers/{}/"


def shipments_url(number: str) -> str:
    return f"/api/v1/orders/{number}/shipments/"


def shipment_url(number: str, action: str = "") -> str:
    return f"/api/v1/shipments/{number}/" + (f"{action}/" if action else "")


def assert_stock_consistent() -> None:
    """For every stock level: the ledger sums to on_hand and reserved, and the
    open part of its reservations is exactly what is reserved."""
    for level in StockLevel.objects.all():
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
        assert 0 <= level.reserved <= level.on_hand, level
    assert stock_drift() == []  # and `reconcile_stock` agrees


def signed_post(
    client, carrier: str, payload: dict | bytes, *, secret: str = CARRIER_SECRET, **headers
):
    """POST an event (a dict, or raw bytes as sent) signed with `secret`."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if secret is not None:
        headers.setdefault("HTTP_X_ORDERLY_SIGNATURE", sign(body, secret))
    return client.post(
        WEBHOOK_URL.format(carrier), data=body, content_type="application/json", **headers
    )


def carrier_event(tracking_number: str, status: str, event_id: str, **extra) -> dict:
    return {
        "event_id": event_id,
        "tracking_number": tracking_number,
        "status": status,
        "location": extra.pop("location", "Springfield hub"),
        "description": extra.pop("description", f"Parcel {status}"),
        "occurred_at": extra.pop("occurred_at", "2026-11-21T10:00:00Z"),
        **extra,
    }


class Fulfillment:
    """Staff-side driver: every call runs its on-commit work (the eager ship
    worker, notifications) like a committed request would."""

    def __init__(self, staff_api, on_commit):
        self.api = staff_api
        self.on_commit = on_commit

    def post(self, url: str, body: dict | None = None):
        with self.on_commit():
            return self.api.post(url, body or {}, format="json")

    def create(self, number: str, items, warehouse: str | None = None) -> dict:
        body = {"items": [{"sku": sku, "quantity": qty} for sku, qty in items]}
        if warehouse:
            body["warehouse"] = warehouse
        response = self.post(shipments_url(number), body)
        assert response.status_code == 201, response.json()
        return response.json()

    def ship(self, shipment: str, carrier: str = "test", tracking: str | None = None) -> dict:
        tracking = tracking or f"TRK-{shipment}"
        response = self.post(
            shipment_url(shipment, "ship"), {"carrier": carrier, "tracking_number": tracking}
        )
        assert response.status_code == 200, response.json()
        return response.json()

    def create_and_ship(self, number: str, items, **kwargs) -> dict:
        created = self.create(number, items, warehouse=kwargs.pop("warehouse", None))
        return self.ship(created["number"], **kwargs)

    def deliver(self, shipment: str) -> dict:
        response = self.post(shipment_url(shipment, "deliver"))
        assert response.status_code == 200, response.json()
        return response.json()

    def refused(self, url: str, body: dict | None, status: int, code: str) -> dict:
        return assert_error(self.post(url, body), status, code)


@pytest.fixture
def ful(staff_api, on_commit) -> Fulfillment:
    return Fulfillment(staff_api, on_commit)


@pytest.fixture
def confirmed_order(shop, customer_api, place):
    """Place an order through the API and let the eager worker confirm it."""

    def _make(lines, market: str = "US", **overrides) -> Order:
        response = place(customer_api, order_body(market, lines, **overrides))
        assert response.status_code == 201, response.json()
        order = Order.objects.get(number=response.json()["number"])
        assert order.status == "confirmed", (order.status, order.risk_reasons)
        return order

    return _make


@pytest.fixture
def carrier_secret(settings):
    settings.WEBHOOK_SECRETS = {"carrier": {"test": CARRIER_SECRET, "manual": ""}}
    return CARRIER_SECRET


@pytest.fixture
def notified(monkeypatch) -> list[tuple[str, str, dict | None]]:
    """Customer notifications sent, as (order number, event, extra)."""
    sent: list = []

    def fake_notify(*, order, event, extra=None, dedupe_suffix=""):
        sent.append((order.number, event, extra))

    monkeypatch.setattr("orders.services.fulfillment.order_notify", fake_notify)
    return sent


def shipment(number: str) -> Shipment:
    return Shipment.objects.get(number=number)


def money(value: str) -> Decimal:
    return Decimal(value)
