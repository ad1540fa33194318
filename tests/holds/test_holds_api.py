"""Typed holds through the API: several at once, the order moves on only when
all are released, shipment holds stop packing and shipping, and every bad
request gets the API's error shape."""

from __future__ import annotations

import pytest

from inventory.models import Reservation, ReservationStatus
from orders.models import Hold, Order
from tests.fulfillment.support import shipment_url
from tests.orders.support import assert_error, detail_pairs, order_body, order_url

pytestmark = pytest.mark.django_db


def holds_url(number: str, hold_id: int | None = None) -> str:
    url = order_url(number) + "holds/"
    return url + (f"{hold_id}/release/" if hold_id is not None else "")


def shipment_holds_url(number: str, hold_id: int | None = None) -> str:
    url = shipment_url(number, "holds")
    return url + (f"{hold_id}/release/" if hold_id is not None else "")


def status_of(number: str) -> str:
    return Order.objects.get(number=number).status


def reservations(number: str) -> set[str]:
    return set(
        Reservation.objects.filter(order_line__order__number=number).values_list(
            "status", flat=True
        )
    )


@pytest.fixture
def held_order(shop, customer_api, place):
    """An order over the US review amount: confirmation holds it (high_risk)."""
    shop.product("TV-1", us="1200.00")
    response = place(customer_api, order_body("US", [("TV-1", 1)]))
    assert response.status_code == 201, response.json()
    number = response.json()["number"]
    assert status_of(number) == "on_hold"
    return number


def test_confirmation_places_a_high_risk_hold_shown_on_the_order(held_order, customer_api):
    body = customer_api.get(order_url(held_order)).json()
    assert body["status"] == "on_hold"
    assert [h["reason"] for h in body["holds"]] == ["high_risk"]
    assert body["holds"][0]["placed_by"] is None  # the system
    assert body["holds"][0]["placed_at"]


def test_several_holds_release_one_by_one_then_the_order_is_approved(held_order, staff_api):
    for reason in ("manual", "address_check"):
        response = staff_api.post(
            holds_url(held_order), {"reason": reason, "note": "call her"}, format="json"
        )
        assert response.status_code == 201, response.json()
        assert response.json()["placed_by"]  # the staff user, not the system
    listed = staff_api.get(holds_url(held_order)).json()["results"]
    assert sorted(h["reason"] for h in listed) == ["address_check", "high_risk", "manual"]
    assert all(h["active"] for h in listed)

    for hold in listed[:2]:
        response = staff_api.post(holds_url(held_order, hold["id"]), {"note": "ok"}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["active"] is False
        assert response.json()["release_note"] == "ok"
        assert status_of(held_order) == "on_hold"
        assert reservations(held_order) == {ReservationStatus.ACTIVE}

    last = listed[2]
    response = staff_api.post(holds_url(held_order, last["id"]), {}, format="json")
    assert response.status_code == 200, response.json()
    assert status_of(held_order) == "confirmed"
    assert reservations(held_order) == {ReservationStatus.COMMITTED}
    assert staff_api.get(order_url(held_order)).json()["holds"] == []
    reasons = [
        e["reason"] for e in staff_api.get(order_url(held_order, "history")).json()["results"]
    ]
    assert sum("hold placed" in r for r in reasons) == 2
    assert sum("hold released" in r for r in reasons) == 3


def test_approve_releases_every_hold_and_commits_stock_once(held_order, staff_api):
    staff_api.post(holds_url(held_order), {"reason": "manual"}, format="json")
    response = staff_api.post(order_url(held_order, "approve"), {"note": "fine"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "confirmed"
    assert response.json()["holds"] == []
    holds = Hold.objects.filter(order__number=held_order)
    assert holds.count() == 2 and all(h.release_note == "fine" for h in holds)
    assert reservations(held_order) == {ReservationStatus.COMMITTED}


def test_reject_cancels_and_releases_the_holds(held_order, staff_api):
    staff_api.post(holds_url(held_order), {"reason": "address_check"}, format="json")
    response = staff_api.post(order_url(held_order, "reject"), {"reason": "fraud"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert not Hold.objects.filter(order__number=held_order, released_at__isnull=True).exists()


def test_holding_a_confirmed_order_and_releasing_it_returns_it_to_confirmed(
    confirmed_order, staff_api
):
    number = confirmed_order([("TSHIRT-RED-M", 1)]).number
    hold = staff_api.post(holds_url(number), {"reason": "awaiting_payment"}, format="json")
    assert hold.status_code == 201, hold.json()
    assert status_of(number) == "on_hold"
    # The review console's approve is not needed: releasing the last hold resumes.
    staff_api.post(holds_url(number, hold.json()["id"]), {"note": "paid"}, format="json")
    assert status_of(number) == "confirmed"
    assert reservations(number) == {ReservationStatus.COMMITTED}


def test_a_processing_order_returns_to_processing_and_its_shipment_waits(
    confirmed_order, staff_api, ful
):
    number = confirmed_order([("TSHIRT-RED-M", 2)]).number
    shipment = ful.create(number, [("TSHIRT-RED-M", 1)])["number"]
    assert status_of(number) == "processing"
    hold = staff_api.post(holds_url(number), {"reason": "out_of_stock"}, format="json").json()
    assert status_of(number) == "on_hold"
    ful.refused(shipment_url(shipment, "pack"), None, 409, "TRANSITION_NOT_ALLOWED")
    staff_api.post(holds_url(number, hold["id"]), {}, format="json")
    assert status_of(number) == "processing"
    ful.ship(shipment)


def test_an_order_with_shipped_items_cannot_be_held(confirmed_order, staff_api, ful):
    number = confirmed_order([("TSHIRT-RED-M", 2)]).number
    ful.create_and_ship(number, [("TSHIRT-RED-M", 1)])
    error = assert_error(
        staff_api.post(holds_url(number), {"reason": "manual"}, format="json"),
        409,
        "TRANSITION_NOT_ALLOWED",
    )
    assert "shipped" in error["message"]
    assert not Hold.objects.filter(order__number=number).exists()


def test_shipment_hold_blocks_pack_and_ship_until_released(confirmed_order, staff_api, ful):
    number = confirmed_order([("TSHIRT-RED-M", 1)]).number
    shipment = ful.create(number, [("TSHIRT-RED-M", 1)])["number"]
    response = staff_api.post(
        shipment_holds_url(shipment), {"reason": "address_check", "note": "PO box"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["shipment"] == shipment
    assert status_of(number) == "processing"  # a shipment hold leaves the order alone
    for action, body in (("pack", None), ("ship", {"carrier": "test", "tracking_number": "T1"})):
        error = ful.refused(shipment_url(shipment, action), body, 409, "TRANSITION_NOT_ALLOWED")
        assert (None, "SHIPMENT_ON_HOLD") in detail_pairs(error)
    assert staff_api.get(shipment_url(shipment)).json()["status"] == "pending"

    listed = staff_api.get(shipment_holds_url(shipment)).json()["results"]
    assert [h["reason"] for h in listed] == ["address_check"]
    released = staff_api.post(shipment_holds_url(shipment, listed[0]["id"]), {}, format="json")
    assert released.status_code == 200, released.json()
    assert ful.post(shipment_url(shipment, "pack")).status_code == 200
    ful.ship(shipment)


def test_bad_input_and_wrong_states_get_the_error_shape(held_order, staff_api):
    before = Hold.objects.count()
    error = assert_error(
        staff_api.post(holds_url(held_order), {"reason": "vibes"}, format="json"),
        400,
        "VALIDATION_FAILED",
    )
    assert ("reason", "INVALID_HOLD_REASON") in detail_pairs(error)
    assert ("reason", "INVALID_HOLD_REASON") in detail_pairs(
        assert_error(
            staff_api.post(holds_url(held_order), {}, format="json"), 400, "VALIDATION_FAILED"
        )
    )
    assert_error(
        staff_api.post(holds_url(held_order), ["manual"], format="json"), 400, "VALIDATION_FAILED"
    )
    assert_error(
        staff_api.post(
            holds_url(held_order), {"reason": "manual", "note": 5 * "x" * 1000}, format="json"
        ),
        400,
        "VALIDATION_FAILED",
    )
    # high_risk is already active: a second one is refused.
    error = assert_error(
        staff_api.post(holds_url(held_order), {"reason": "high_risk"}, format="json"),
        409,
        "TRANSITION_NOT_ALLOWED",
    )
    assert ("reason", "HOLD_ALREADY_ACTIVE") in detail_pairs(error)
    assert Hold.objects.count() == before

    hold = Hold.objects.get(order__number=held_order)
    staff_api.post(holds_url(held_order), {"reason": "manual"}, format="json")
    assert staff_api.post(holds_url(held_order, hold.pk), {}, format="json").status_code == 200
    assert_error(
        staff_api.post(holds_url(held_order, hold.pk), {}, format="json"),
        409,
        "TRANSITION_NOT_ALLOWED",
    )
    assert_error(staff_api.post(holds_url(held_order, 999999), {}, format="json"), 404, "NOT_FOUND")
    assert_error(staff_api.get(holds_url("US-999999")), 404, "NOT_FOUND")
    assert_error(
        staff_api.post(shipment_holds_url("SH-404"), {"reason": "manual"}, format="json"),
        404,
        "NOT_FOUND",
    )
    # Released holds can be placed again.
    again = staff_api.post(holds_url(held_order), {"reason": "high_risk"}, format="json")
    assert again.status_code == 201, again.json()


def test_a_cancelled_order_cannot_be_held(held_order, staff_api):
    staff_api.post(order_url(held_order, "reject"), {"reason": "fraud"}, format="json")
    assert_error(
        staff_api.post(holds_url(held_order), {"reason": "manual"}, format="json"),
        409,
        "TRANSITION_NOT_ALLOWED",
    )


def test_customers_get_403_on_their_own_order_and_404_on_others(
    held_order, customer_api, other_customer_api, api
):
    hold = Hold.objects.get(order__number=held_order)
    for url, body in (
        (holds_url(held_order), {"reason": "manual"}),
        (holds_url(held_order, hold.pk), {}),
    ):
        assert_error(customer_api.post(url, body, format="json"), 403, "PERMISSION_DENIED")
        assert_error(other_customer_api.post(url, body, format="json"), 404, "NOT_FOUND")
        assert_error(api.post(url, body, format="json"), 401, "AUTHENTICATION_REQUIRED")
    assert_error(customer_api.get(holds_url(held_order)), 403, "PERMISSION_DENIED")
    assert_error(other_customer_api.get(holds_url(held_order)), 404, "NOT_FOUND")
    assert Hold.objects.filter(order__number=held_order).count() == 1
    assert Hold.objects.get(pk=hold.pk).released_at is None


def test_holds_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/orders/{number}/holds/",
        "/api/v1/orders/{number}/holds/{hold_id}/release/",
        "/api/v1/shipments/{number}/holds/",
        "/api/v1/shipments/{number}/holds/{hold_id}/release/",
    ):
        assert path in paths, path
    order = schema["components"]["schemas"]["Order"]
    assert "holds" in order["properties"]


def test_cancelling_an_order_releases_its_holds_and_its_shipments_holds(
    confirmed_order, staff_api, ful, customer_api
):
    number = confirmed_order([("TSHIRT-RED-M", 2)]).number
    shipment = ful.create(number, [("TSHIRT-RED-M", 1)])["number"]
    staff_api.post(shipment_holds_url(shipment), {"reason": "out_of_stock"}, format="json")
    staff_api.post(holds_url(number), {"reason": "awaiting_payment"}, format="json")
    assert status_of(number) == "on_hold"

    response = customer_api.post(
        order_url(number, "cancel"), {"reason": "changed my mind"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert response.json()["holds"] == []
    assert not Hold.objects.filter(order__number=number, released_at__isnull=True).exists()
    # The customer's history shows the cancellation, not the staff's hold bookkeeping.
    history = customer_api.get(order_url(number, "history")).json()["results"]
    assert not any("hold" in e["reason"] for e in history)


def test_cancelling_a_shipment_releases_its_holds_only(confirmed_order, staff_api, ful):
    number = confirmed_order([("TSHIRT-RED-M", 2)]).number
    first = ful.create(number, [("TSHIRT-RED-M", 1)])["number"]
    second = ful.create(number, [("TSHIRT-RED-M", 1)])["number"]
    staff_api.post(shipment_holds_url(first), {"reason": "address_check"}, format="json")
    staff_api.post(shipment_holds_url(second), {"reason": "out_of_stock"}, format="json")

    assert ful.post(shipment_url(first, "cancel")).status_code == 200

    active = Hold.objects.filter(order__number=number, released_at__isnull=True)
    assert [(h.shipment.number, h.reason) for h in active] == [(second, "out_of_stock")]
    released = Hold.objects.get(shipment__number=first)
    assert released.release_note == f"shipment {first} cancelled"
    assert status_of(number) == "processing"
