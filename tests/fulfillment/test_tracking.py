"""GET /orders/{number}/tracking/: customers see their own orders' shipments
and carrier events; anyone else's order is a 404; staff see all."""

from __future__ import annotations

from tests.fulfillment.support import carrier_event, signed_post
from tests.orders.support import assert_error, order_url


def test_tracking_shows_shipments_items_and_events(
    shop, confirmed_order, ful, customer_api, other_customer_api, staff_api, api, carrier_secret
):
    order = confirmed_order([("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)])
    url = order_url(order.number, "tracking")
    assert customer_api.get(url).json() == {"status": "confirmed", "shipments": []}

    shipped = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 2)], tracking="TRK-77")
    cancelled = ful.create(order.number, [("HOODIE-GREY-M", 1)])
    ful.post(f"/api/v1/shipments/{cancelled['number']}/cancel/")
    signed_post(
        api,
        "test",
        carrier_event(
            "TRK-77",
            "in_transit",
            "ev-1",
            location="Chicago IL",
            description="Departed facility",
            occurred_at="2026-11-21T10:00:00Z",
        ),
    )

    body = customer_api.get(url).json()
    assert body["status"] == "partially_shipped"
    [parcel] = body["shipments"]  # the cancelled one is not shown
    assert parcel["number"] == shipped["number"]
    assert parcel["status"] == "in_transit"
    assert parcel["carrier"] == "test"
    assert parcel["tracking_number"] == "TRK-77"
    assert parcel["tracking_url"].endswith("/TRK-77")
    assert parcel["items"] == [{"sku": "TSHIRT-RED-M", "quantity": 2}]
    assert parcel["events"] == [
        {
            "status": "in_transit",
            "location": "Chicago IL",
            "description": "Departed facility",
            "occurred_at": "2026-11-21T10:00:00Z",
        }
    ]
    assert staff_api.get(url).json() == body

    assert_error(other_customer_api.get(url), 404, "NOT_FOUND")
    assert_error(api.get(url), 401, "AUTHENTICATION_REQUIRED")
    assert_error(customer_api.get(order_url("US-999999", "tracking")), 404, "NOT_FOUND")
