"""The figures follow orders moved through the real API: placed and confirmed
by the worker, shipped and delivered by staff, returned by the customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from payments.gateways.test_gateway import TestGateway
from tests.orders.support import order_body
from tests.returns.support import open_return

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/summary/"


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()


def test_a_day_of_real_orders(
    confirmed_order, ful, place, customer_api, staff_api, client, staff_user
):
    delivered = confirmed_order([("TSHIRT-RED-M", 2)])
    shipment = ful.create_and_ship(delivered.number, [("TSHIRT-RED-M", 2)])
    ful.deliver(shipment["number"])
    shipped_only = confirmed_order([("HOODIE-GREY-M", 1)])
    ful.create_and_ship(shipped_only.number, [("HOODIE-GREY-M", 1)])
    declined = place(
        customer_api, order_body("US", [("TSHIRT-RED-M", 1)], payment_token="tok_chargeDeclined")
    )
    assert declined.json()["number"]
    returned = open_return(customer_api, Order.objects.get(pk=delivered.pk), [("TSHIRT-RED-M", 1)])
    assert returned.status_code == 201, returned.json()

    since = (timezone.now() - timedelta(hours=1)).isoformat()
    body = staff_api.get(URL, {"since": since}).json()

    statuses = body["orders_by_status"]
    assert (statuses["delivered"], statuses["shipped"], statuses["cancelled"]) == (1, 1, 1)
    assert body["orders_total"] == 3
    expected = (
        Order.objects.get(pk=delivered.pk).total + Order.objects.get(pk=shipped_only.pk).total
    )
    us = next(r for r in body["revenue"] if r["market"] == "US")
    assert (us["orders"], Decimal(us["total"])) == (2, expected)  # the declined order is left out
    assert body["lead_time"]["shipped_orders"] == 2
    assert Decimal(body["lead_time"]["median_hours"]) < 1
    assert body["returns"] == {"returns": 1, "delivered_orders": 1, "rate_percent": "100.00"}

    client.force_login(staff_user)
    page = client.get("/admin/reports/dashboard/")
    assert page.status_code == 200
    assert page.context["summary"].orders_total == 3
