"""Signed carrier webhooks move shipments (and deliver orders); a bad
signature or a repeated event changes nothing. API.md, "Inbound webhooks"."""

from __future__ import annotations

import json

import pytest

from fulfillment.carriers import sign
from fulfillment.models import TrackingEvent
from orders.models import Order
from tests.fulfillment.support import (
    CARRIER_SECRET,
    WEBHOOK_URL,
    carrier_event,
    shipment,
    signed_post,
)
from tests.orders.support import assert_error


@pytest.fixture
def shipped(shop, confirmed_order, ful, carrier_secret):
    """An order of 2 T-shirts shipped in two parcels with the test carrier."""
    order = confirmed_order([("TSHIRT-RED-M", 2)])
    one = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)], tracking="TT-1")
    two = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)], tracking="TT-2")
    return order, one["number"], two["number"]


def state(order: Order, *numbers: str) -> tuple:
    order.refresh_from_db()
    return (
        order.status,
        tuple(shipment(n).status for n in numbers),
        TrackingEvent.objects.count(),
    )


class TestSignature:
    def test_bad_or_missing_signature_is_401_and_changes_nothing(self, shipped, api):
        order, one, two = shipped
        before = state(order, one, two)
        event = carrier_event("TT-1", "delivered", "ev-1")
        assert_error(
            signed_post(api, "test", event, secret="wrong-secret"), 401, "AUTHENTICATION_REQUIRED"
        )
        assert_error(signed_post(api, "test", event, secret=None), 401, "AUTHENTICATION_REQUIRED")
        body = json.dumps(event).encode()
        tampered = body.replace(b"TT-1", b"TT-2")
        response = api.post(
            WEBHOOK_URL.format("test"),
            data=tampered,
            content_type="application/json",
            HTTP_X_ORDERLY_SIGNATURE=sign(body, CARRIER_SECRET),
        )
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")
        assert state(order, one, two) == before

    def test_carrier_without_a_secret_or_unknown_refuses_everything(self, shipped, api):
        order, one, two = shipped
        before = state(order, one, two)
        event = carrier_event("TT-1", "delivered", "ev-1")
        # "manual" is configured with an empty secret; signing with "" must not pass.
        assert_error(signed_post(api, "manual", event, secret=""), 401, "AUTHENTICATION_REQUIRED")
        assert_error(signed_post(api, "pigeon", event), 401, "AUTHENTICATION_REQUIRED")
        assert state(order, one, two) == before

    def test_signed_but_unreadable_body_is_400(self, shipped, api):
        event = carrier_event("TT-1", "teleported", "ev-x")
        assert_error(signed_post(api, "test", event), 400, "VALIDATION_FAILED")
        assert_error(signed_post(api, "test", b"not json"), 400, "VALIDATION_FAILED")
        for depth in (5000, 900):  # past Python's parser stack, and just under it
            deep = b"[" * depth + b"]" * depth
            assert_error(signed_post(api, "test", deep), 400, "VALIDATION_FAILED")
        assert not TrackingEvent.objects.exists()

    def test_the_signature_hex_may_be_upper_case(self, shipped, api):
        event = carrier_event("TT-1", "in_transit", "ev-upper")
        signature = sign(json.dumps(event).encode(), CARRIER_SECRET)
        response = signed_post(api, "test", event, HTTP_X_ORDERLY_SIGNATURE=signature.upper())
        assert response.status_code == 200, response.content


class TestEvents:
    def test_in_transit_then_delivered_delivers_the_order(self, shipped, api, on_commit, notified):
        order, one, two = shipped
        response = signed_post(api, "test", carrier_event("TT-1", "in_transit", "ev-1"))
        assert response.status_code == 200
        assert response.json() == {
            "status": "applied",
            "shipment": one,
            "shipment_status": "in_transit",
        }
        with on_commit():
            assert (
                signed_post(api, "test", carrier_event("TT-1", "delivered", "ev-2")).status_code
                == 200
            )
        assert state(order, one, two)[:2] == ("shipped", ("delivered", "shipped"))

        with on_commit():
            response = signed_post(
                api,
                "test",
                carrier_event("TT-2", "delivered", "ev-3", occurred_at="2026-11-22T09:30:00+00:00"),
            )
        assert response.json()["shipment_status"] == "delivered"
        assert state(order, one, two) == ("delivered", ("delivered", "delivered"), 3)
        assert shipment(two).delivered_at.isoformat() == "2026-11-22T09:30:00+00:00"
        assert order.delivered_at is not None
        last = order.events.order_by("-at", "-id").first()
        assert (last.from_status, last.to_status, last.actor_name) == (
            "shipped",
            "delivered",
            "system",
        )
        assert [(n, e) for n, e, _ in notified] == [(order.number, "delivered")]

    def test_a_repeated_event_changes_nothing_twice(self, shipped, api):
        order, one, two = shipped
        first = signed_post(api, "test", carrier_event("TT-1", "exception", "ev-9"))
        assert first.json()["shipment_status"] == "exception"
        after_first = state(order, one, two)
        # The same event id again, even with a different body, twice.
        for status in ("exception", "delivered"):
            again = signed_post(api, "test", carrier_event("TT-1", status, "ev-9"))
            assert again.status_code == 200
            assert again.json() == {"status": "duplicate"}
            assert state(order, one, two) == after_first
        assert TrackingEvent.objects.get().status == "exception"

    def test_unknown_tracking_number_is_404(self, shipped, api):
        response = signed_post(api, "test", carrier_event("NOPE-404", "in_transit", "ev-404"))
        assert_error(response, 404, "NOT_FOUND")
        assert not TrackingEvent.objects.exists()

    def test_late_news_is_recorded_without_moving_back(self, shipped, api, on_commit):
        order, one, _two = shipped
        with on_commit():
            signed_post(api, "test", carrier_event("TT-1", "delivered", "ev-1"))
        late = signed_post(api, "test", carrier_event("TT-1", "in_transit", "ev-0"))
        assert late.json() == {
            "status": "recorded",
            "shipment": one,
            "shipment_status": "delivered",
        }
        assert shipment(one).status == "delivered"
        assert TrackingEvent.objects.count() == 2
        order.refresh_from_db()
        assert order.status == "shipped"  # the other parcel is still on its way

    def test_exception_then_moving_again(self, shipped, api):
        _order, one, _two = shipped
        signed_post(api, "test", carrier_event("TT-1", "exception", "ev-1"))
        assert shipment(one).status == "exception"
        moved = signed_post(api, "test", carrier_event("TT-1", "in_transit", "ev-2"))
        assert moved.json()["shipment_status"] == "in_transit"
        assert shipment(one).status == "in_transit"
