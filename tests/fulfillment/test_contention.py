"""Two staff members racing for an order's last units: the order's row lock
lets exactly one shipment have them."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from fulfillment.models import Shipment
from fulfillment.services import ShipmentItemInput, shipment_create
from orders.models import Order
from orders.services.confirming import order_confirm
from tests.orders.support import order_body


@pytest.mark.django_db(transaction=True)
def test_concurrent_shipments_never_exceed_the_order(shop, customer_api, staff_user):
    response = customer_api.post(
        "/api/v1/orders/", order_body("US", [("TSHIRT-RED-M", 3)]), format="json"
    )
    order = order_confirm(order_id=Order.objects.get(number=response.json()["number"]).pk)
    assert order.status == "confirmed"

    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            barrier.wait()
            shipment_create(
                order=order, items=[ShipmentItemInput("TSHIRT-RED-M", 2)], actor=staff_user
            )
            outcomes.append("created")
        except Exception as exc:
            outcomes.append(getattr(exc, "details", [{}])[0].get("code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["OVER_SHIPMENT"] * 3 + ["created"]
    assert Shipment.objects.count() == 1
    order.refresh_from_db()
    assert order.status == "processing"
    assert order.events.filter(to_status="processing").count() == 1
