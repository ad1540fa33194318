"""Placement → real Celery worker over Redis → confirmed, end to end."""

import statistics
import time

import pytest
from django.db.models import Sum

from inventory.models import Reservation, StockLevel
from orders.models import Order, OrderEvent
from payments.gateways.test_gateway import TestGateway
from tests.factories import UserFactory, WarehouseFactory, priced_product, token_for, us_market

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def wait_for_status(number: str, statuses: set[str], timeout: float = 30.0) -> Order:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        order = Order.objects.get(number=number)
        if order.status in statuses:
            return order
        time.sleep(0.05)
    raise AssertionError(
        f"{number} still {Order.objects.get(number=number).status} after {timeout}s"
    )


def body(sku: str, token: str, quantity: int = 1) -> dict:
    return {
        "market": "US",
        "items": [{"sku": sku, "quantity": quantity}],
        "shipping_method": "standard",
        "shipping_address": {
            "name": "Ana Cruz",
            "phone": "+14155550100",
            "line1": "1 Main St",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
        "payment_method": "card",
        "payment_token": token,
    }


@pytest.fixture
def shop(celery_worker):
    us_market()
    warehouse = WarehouseFactory(code="US-EAST")
    priced_product("TSHIRT-RED-M", {"US": "19.99"}, stock={warehouse: 50})
    return warehouse


def test_placed_order_is_confirmed_by_the_worker(shop, client_for):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(UserFactory())}")
    latencies = []
    numbers = []
    for _ in range(5):
        started = time.monotonic()
        response = client.post("/api/v1/orders/", body("TSHIRT-RED-M", "tok_visa"), format="json")
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "pending"
        order = wait_for_status(response.json()["number"], {"confirmed"})
        latencies.append(time.monotonic() - started)
        numbers.append(order.number)
        assert order.payment.status == "authorized"
        assert order.payment_status == "authorized"
        assert list(order.events.values_list("to_status", flat=True)) == ["pending", "confirmed"]
        assert set(
            Reservation.objects.filter(order_line__order=order).values_list("status", flat=True)
        ) == {"committed"}
    print(
        f"\nplacement → confirmed with a real worker: median {statistics.median(latencies) * 1000:.0f} ms"
    )
    level = StockLevel.objects.get(product__sku="TSHIRT-RED-M")
    assert level.reserved == 5
    reserved = Reservation.objects.filter(status="committed").aggregate(n=Sum("quantity"))["n"]
    assert reserved == 5


def test_declined_card_cancels_and_releases_stock(shop, client_for):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(UserFactory())}")
    response = client.post(
        "/api/v1/orders/", body("TSHIRT-RED-M", "tok_chargeDeclined", 3), format="json"
    )
    assert response.status_code == 201
    order = wait_for_status(response.json()["number"], {"cancelled"})
    assert order.payment.status == "failed"
    assert order.payment_status == "failed"
    assert "declined" in order.cancel_reason
    level = StockLevel.objects.get(product__sku="TSHIRT-RED-M")
    assert level.reserved == 0 and level.on_hand == 50
    assert OrderEvent.objects.filter(
        order=order, to_status="cancelled", actor_name="system"
    ).exists()
    assert sum(1 for call in TestGateway.calls if call.operation == "authorize") >= 1


def test_shipping_is_captured_and_stock_moved_by_the_worker(shop, staff_api):
    from rest_framework.test import APIClient

    from fulfillment.models import Shipment
    from inventory.models import StockMovement

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(UserFactory())}")
    placed = client.post("/api/v1/orders/", body("TSHIRT-RED-M", "tok_visa", 2), format="json")
    number = placed.json()["number"]
    order = wait_for_status(number, {"confirmed"})

    created = staff_api.post(
        f"/api/v1/orders/{number}/shipments/",
        {"items": [{"sku": "TSHIRT-RED-M", "quantity": 2}]},
        format="json",
    )
    assert created.status_code == 201, created.content
    shipment = created.json()["number"]
    shipped = staff_api.post(
        f"/api/v1/shipments/{shipment}/ship/",
        {"carrier": "manual", "tracking_number": "TRK-1"},
        format="json",
    )
    assert shipped.status_code == 200, shipped.content

    order = wait_for_status(number, {"shipped"})
    deadline = time.monotonic() + 30
    while order.payment.status != "captured" and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker moves stock first, then captures
        order.payment.refresh_from_db()
    assert order.payment.status == "captured"
    assert order.payment.amount_captured == order.total
    level = StockLevel.objects.get(product__sku="TSHIRT-RED-M")
    assert (level.on_hand, level.reserved) == (48, 0)
    assert StockMovement.objects.filter(kind="sale").count() == 1
    assert Shipment.objects.get(number=shipment).stock_moved_at is not None
