"""A committed, realistic data set for the schema fuzzer: `seed_demo` plus
orders, shipments and returns in most of their states, made through the API
itself (so on-commit work and the eager workers run as in production).

The fuzzer's requests go through the WSGI application outside any test
transaction, so this data is committed for real; `flush_world` empties the
test database again afterwards, leaving it as pytest-django's other tests
expect it (empty)."""

from __future__ import annotations

import hashlib
import hmac
import io
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from payments.models import Payment
from tests.orders.support import ADDRESSES

CARRIER_SECRET = "fuzz-carrier-secret"
GATEWAY_SECRET = "fuzz-gateway-secret"
# `kind -> name -> secret`, the parsed form of WEBHOOK_SECRETS.
WEBHOOK_SECRETS = {
    "carrier": {"test": CARRIER_SECRET, "manual": ""},
    "gateway": {"test": GATEWAY_SECRET},
    "channel": {"tiktok": "fuzz-channel-secret"},
}


def sign(body: bytes, secret: str) -> str:
    """`X-Orderly-Signature` for a webhook body (API.md: HMAC-SHA256 of the raw body)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# The same addresses the order tests use.
US_ADDRESS, IN_ADDRESS = ADDRESSES["US"], ADDRESSES["IN"]


@dataclass
class World:
    customer_token: str
    staff_token: str
    orders: list[str] = field(default_factory=list)
    shipments: list[str] = field(default_factory=list)
    tracking_numbers: list[str] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)
    payment_references: list[str] = field(default_factory=list)
    # The same numbers by role, for valid request templates: "delivered" -> "US-000009".
    named: dict[str, str] = field(default_factory=dict)


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


class _Builder:
    def __init__(self, customer: APIClient, staff: APIClient, world: World):
        self.customer = customer
        self.staff = staff
        self.world = world
        self._tracking = 0

    def _ok(self, response, *statuses: int) -> dict:
        assert response.status_code in statuses, (response.status_code, response.content[:500])
        return response.json()

    def place(self, client: APIClient, market: str, items, **extra) -> str:
        body = {
            "market": market,
            "items": [{"sku": sku, "quantity": qty} for sku, qty in items],
            "shipping_method": "standard",
            "shipping_address": IN_ADDRESS if market == "IN" else US_ADDRESS,
            "payment_method": "card",
            "payment_token": "tok_visa",
            **extra,
        }
        order = self._ok(client.post("/api/v1/orders/", body, format="json"), 201)
        self.world.orders.append(order["number"])
        return order["number"]

    def status(self, number: str) -> str:
        return self._ok(self.staff.get(f"/api/v1/orders/{number}/"), 200)["status"]

    def confirmed(self, client: APIClient, market: str, items, **extra) -> str:
        """Placed and confirmed (approved by staff if the risk rules held it)."""
        number = self.place(client, market, items, **extra)
        if self.status(number) == "on_hold":
            self._ok(self.staff.post(f"/api/v1/orders/{number}/approve/", {}, format="json"), 200)
        assert self.status(number) == "confirmed", self.status(number)
        return number

    def shipment(self, number: str, items) -> str:
        body = {"items": [{"sku": sku, "quantity": qty} for sku, qty in items]}
        url = f"/api/v1/orders/{number}/shipments/"
        shipment = self._ok(self.staff.post(url, body, format="json"), 201)["number"]
        self.world.shipments.append(shipment)
        return shipment

    def ship(self, shipment: str) -> None:
        self._tracking += 1
        tracking = f"FUZZ-TRK-{self._tracking:04d}"
        body = {"carrier": "test", "tracking_number": tracking}
        self._ok(self.staff.post(f"/api/v1/shipments/{shipment}/ship/", body, format="json"), 200)
        self.world.tracking_numbers.append(tracking)

    def deliver(self, shipment: str) -> None:
        self._ok(self.staff.post(f"/api/v1/shipments/{shipment}/deliver/", {}, format="json"), 200)

    def delivered(self, client: APIClient, market: str, items, **extra) -> str:
        number = self.confirmed(client, market, items, **extra)
        shipment = self.shipment(number, items)
        self.ship(shipment)
        self.deliver(shipment)
        return number

    def return_(self, number: str, items, **extra) -> str:
        body = {
            "order": number,
            "reason": "defective",
            "items": [{"sku": sku, "quantity": qty} for sku, qty in items],
            **extra,
        }
        rr = self._ok(self.customer.post("/api/v1/returns/", body, format="json"), 201)["number"]
        self.world.returns.append(rr)
        return rr

    def return_step(self, rr: str, action: str, body: dict | None = None) -> None:
        url = f"/api/v1/returns/{rr}/{action}/"
        self._ok(self.staff.post(url, body or {}, format="json"), 200)


def build_world() -> World:
    """Seed everything; returns tokens and the public numbers that exist."""
    call_command("seed_demo", stdout=io.StringIO())
    User = get_user_model()
    customer = User.objects.get(username="demo")
    staff = User.objects.get(username="admin")  # superuser
    other = User.objects.create_user(
        username="fuzz-other", email="fuzz-other@example.com", password="pass-word-123"
    )
    world = World(
        customer_token=Token.objects.get_or_create(user=customer)[0].key,
        staff_token=Token.objects.get_or_create(user=staff)[0].key,
    )
    c = _client(world.customer_token)
    s = _client(world.staff_token)
    o = _client(Token.objects.get_or_create(user=other)[0].key)
    b = _Builder(c, s, world)

    # Orders in (most of) their states, the customer's and one of another customer.
    n = world.named
    n["confirmed"] = b.confirmed(c, "US", [("TSHIRT-RED-M", 2)], promo_code="WELCOME10")
    n["on_hold"] = b.place(c, "US", [("LAPTOP-PRO-14", 1)])  # above the review amount
    n["cancelled"] = b.place(c, "US", [("HOODIE-GREY-M", 1)], payment_token="tok_chargeDeclined")
    n["processing"] = b.confirmed(c, "US", [("TSHIRT-BLUE-L", 3)])
    n["pending_shipment"] = b.shipment(n["processing"], [("TSHIRT-BLUE-L", 1)])
    n["partially_shipped"] = b.confirmed(c, "US", [("BACKPACK-BLK", 2)])
    n["shipped_shipment"] = b.shipment(n["partially_shipped"], [("BACKPACK-BLK", 1)])
    b.ship(n["shipped_shipment"])
    # Delivered orders, with returns at several steps.
    n["delivered"] = b.delivered(c, "US", [("SNEAKER-WHT-42", 2)])
    n["initiated_return"] = b.return_(n["delivered"], [("SNEAKER-WHT-42", 1)])
    d2 = b.delivered(c, "US", [("WATCH-SMART", 1)], shipping_method="express")
    n["received_return"] = b.return_(d2, [("WATCH-SMART", 1)], comment="strap broke")
    b.return_step(n["received_return"], "approve")
    b.return_step(
        n["received_return"], "schedule-pickup", {"carrier": "manual", "tracking_number": "RET-1"}
    )
    received = {"items": [{"sku": "WATCH-SMART", "quantity": 1, "condition": "resellable"}]}
    b.return_step(n["received_return"], "receive", received)
    n["delivered_cod"] = b.delivered(
        c, "IN", [("TSHIRT-RED-M", 1)], payment_method="cod", payment_token=""
    )
    n["approved_return"] = b.return_(
        n["delivered_cod"], [("TSHIRT-RED-M", 1)], resolution="replacement"
    )
    b.return_step(n["approved_return"], "approve")
    n["delivered_no_return"] = b.delivered(c, "US", [("TSHIRT-RED-M", 1), ("TSHIRT-BLUE-L", 1)])
    n["other_customers"] = b.confirmed(o, "US", [("HOODIE-GREY-M", 1)])
    world.payment_references = list(
        Payment.objects.exclude(reference="").order_by("id").values_list("reference", flat=True)
    )
    return world


def flush_world() -> None:
    call_command("flush", interactive=False, verbosity=0)
