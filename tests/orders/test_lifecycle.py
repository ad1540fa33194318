"""An order's life as the customer sees it: placed `pending`, confirmed (or
cancelled on a declined card) by the worker, cancelled on request with its
stock back, reviewed by staff when held, and the audit trail of all of it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from inventory.models import MovementKind, Reservation, ReservationStatus, StockMovement
from orders.models import Order, PromoCode
from tests.factories import PromoCodeFactory
from tests.orders.support import (
    assert_error,
    assert_ledger_agrees,
    assert_unchanged,
    level_of,
    order_body,
    order_url,
    snapshot,
)


def available(client, sku: str, market: str = "US") -> int:
    body = client.get("/api/v1/products/", {"market": market, "search": sku}).json()
    [row] = [p for p in body["results"] if p["sku"] == sku]
    return row["available"]


def history(client, number: str) -> list[dict]:
    response = client.get(order_url(number, "history"))
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def transitions(client, number: str) -> list[tuple[str, str]]:
    return [(e["from_status"], e["to_status"]) for e in history(client, number)]


@pytest.fixture
def confirmed(shop, customer_api, place):
    response = place(customer_api, order_body("US", [("TSHIRT-RED-M", 3)], promo_code="WELCOME10"))
    assert response.status_code == 201, response.json()
    return response.json()["number"]


class TestConfirmation:
    def test_good_card_is_confirmed_by_the_worker(self, shop, customer_api, place):
        response = place(customer_api, order_body("US", [("TSHIRT-RED-M", 2)]))
        assert response.status_code == 201
        assert response.json()["status"] == "pending"
        assert response.json()["payment_status"] == "pending"

        order = customer_api.get(order_url(response.json()["number"])).json()
        assert order["status"] == "confirmed"
        assert order["payment_status"] == "authorized"
        assert available(customer_api, "TSHIRT-RED-M") == 48
        assert set(Reservation.objects.values_list("status", flat=True)) == {
            ReservationStatus.COMMITTED
        }

    def test_declined_card_cancels_and_releases_stock(self, shop, customer_api, place):
        response = place(
            customer_api,
            order_body("US", [("TSHIRT-RED-M", 2)], payment_token="tok_chargeDeclined"),
        )
        assert response.status_code == 201
        number = response.json()["number"]

        order = customer_api.get(order_url(number)).json()
        assert order["status"] == "cancelled"
        assert order["payment_status"] == "failed"
        assert available(customer_api, "TSHIRT-RED-M") == 50
        assert level_of(shop.tshirt, shop.us_wh).reserved == 0
        assert transitions(customer_api, number) == [("", "pending"), ("pending", "cancelled")]
        assert history(customer_api, number)[-1]["actor"] == "system"
        assert_ledger_agrees()
        # The decline stays before ops (the same step's success must not resolve it).
        from operations.models import ProcessingError

        [error] = ProcessingError.objects.filter(category="payment", order__number=number)
        assert not error.resolved, error.resolution_note

    def test_placing_reserves_at_once(self, shop, customer_api, place):
        place(customer_api, order_body("US", [("TSHIRT-RED-M", 4)]), confirm=False)
        assert available(customer_api, "TSHIRT-RED-M") == 46
        level = level_of(shop.tshirt, shop.us_wh)
        assert (level.on_hand, level.reserved) == (50, 4)
        assert_ledger_agrees()


class TestCancel:
    def test_cancel_releases_stock_and_voids_payment(
        self, shop, customer, customer_api, confirmed, on_commit
    ):
        assert available(customer_api, "TSHIRT-RED-M") == 47
        with on_commit():
            response = customer_api.post(
                order_url(confirmed, "cancel"), {"reason": "changed my mind"}, format="json"
            )

        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "cancelled"
        assert available(customer_api, "TSHIRT-RED-M") == 50
        assert set(Reservation.objects.values_list("status", flat=True)) == {
            ReservationStatus.RELEASED
        }
        [release] = StockMovement.objects.filter(kind=MovementKind.RELEASE)
        assert release.reserved_delta == -3
        assert release.on_hand_delta == 0
        assert release.reference == confirmed
        assert release.actor == customer
        assert "changed my mind" in release.reason
        assert_ledger_agrees()
        assert PromoCode.objects.get(code="WELCOME10").times_used == 0
        order = customer_api.get(order_url(confirmed)).json()
        assert order["payment_status"] == "voided"

    def test_cancel_is_in_the_history(self, shop, customer, customer_api, confirmed):
        customer_api.post(order_url(confirmed, "cancel"), {"reason": "too slow"}, format="json")
        events = history(customer_api, confirmed)
        assert [(e["from_status"], e["to_status"]) for e in events] == [
            ("", "pending"),
            ("pending", "confirmed"),
            ("confirmed", "cancelled"),
        ]
        last = events[-1]
        assert last["actor"] == customer.username
        assert last["reason"] == "too slow"

    def test_cancel_without_a_body(self, shop, customer_api, confirmed):
        response = customer_api.post(order_url(confirmed, "cancel"))
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "cancelled"

    def test_cancel_a_pending_order(self, shop, customer_api, place):
        number = place(customer_api, order_body("US"), confirm=False).json()["number"]
        response = customer_api.post(order_url(number, "cancel"), {"reason": "oops"}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        assert level_of(shop.tshirt, shop.us_wh).reserved == 0
        assert_ledger_agrees()

    def test_cancelling_twice_is_409_and_changes_nothing(self, shop, customer_api, confirmed):
        customer_api.post(order_url(confirmed, "cancel"), {"reason": "first"}, format="json")
        before = snapshot()

        response = customer_api.post(
            order_url(confirmed, "cancel"), {"reason": "second"}, format="json"
        )

        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")
        assert_unchanged(before)
        assert len(history(customer_api, confirmed)) == 3

    def test_cancelled_by_decline_cannot_be_cancelled(self, shop, customer_api, place):
        body = order_body("US", payment_token="tok_chargeDeclined")
        number = place(customer_api, body).json()["number"]
        response = customer_api.post(order_url(number, "cancel"), {"reason": "x"}, format="json")
        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")


class TestHistory:
    def test_fields(self, shop, customer, customer_api, confirmed):
        events = history(customer_api, confirmed)
        assert [(e["from_status"], e["to_status"]) for e in events] == [
            ("", "pending"),
            ("pending", "confirmed"),
        ]
        for event in events:
            assert set(event) >= {"from_status", "to_status", "actor", "reason", "at"}
            assert datetime.fromisoformat(event["at"]).tzinfo is not None
        assert events[0]["actor"] == customer.username
        assert events[0]["reason"]
        assert events[1]["actor"] == "system"
        assert events[0]["at"] <= events[1]["at"]


class TestReview:
    @pytest.fixture
    def held(self, shop, customer_api, place):
        shop.product("TV-BIG", us="1200.00", units=3)
        response = place(customer_api, order_body("US", [("TV-BIG", 1)]))
        number = response.json()["number"]
        assert customer_api.get(order_url(number)).json()["status"] == "on_hold"
        return number

    def test_staff_approve(self, held, staff_api, customer_api, staff_user):
        response = staff_api.post(
            order_url(held, "approve"), {"note": "known buyer"}, format="json"
        )
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "confirmed"
        last = history(customer_api, held)[-1]
        assert (last["from_status"], last["to_status"]) == ("on_hold", "confirmed")
        assert last["actor"] == staff_user.username
        assert last["reason"] == "known buyer"

    def test_staff_reject_releases_stock(self, shop, held, staff_api, customer_api, on_commit):
        with on_commit():
            response = staff_api.post(
                order_url(held, "reject"), {"reason": "fraud pattern"}, format="json"
            )
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "cancelled"
        assert available(customer_api, "TV-BIG") == 3
        assert customer_api.get(order_url(held)).json()["payment_status"] == "voided"
        assert_ledger_agrees()

    def test_customer_can_cancel_a_held_order(self, held, customer_api):
        response = customer_api.post(order_url(held, "cancel"), {"reason": "x"}, format="json")
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"

    def test_approving_a_confirmed_order_is_409(self, confirmed, staff_api):
        before = snapshot()
        response = staff_api.post(order_url(confirmed, "approve"), {}, format="json")
        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")
        assert_unchanged(before)

    def test_reject_needs_a_reason(self, held, staff_api):
        response = staff_api.post(order_url(held, "reject"), {}, format="json")
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert [d["field"] for d in error["details"]] == ["reason"]
        assert Order.objects.get(number=held).status == "on_hold"


class TestMoneyAndPromoGoBack:
    """Whatever ends an order (customer cancel, declined card, review reject),
    the payment ends settled and the promo use is returned."""

    def test_declined_order_returns_the_promo_use(self, shop, customer_api, place):
        body = order_body(
            "US", [("TSHIRT-RED-M", 2)], promo_code="WELCOME10", payment_token="tok_chargeDeclined"
        )
        number = place(customer_api, body).json()["number"]
        assert customer_api.get(order_url(number)).json()["status"] == "cancelled"
        assert PromoCode.objects.get(code="WELCOME10").times_used == 0

    def test_rejected_order_returns_the_promo_use(self, shop, customer_api, staff_api, place):
        shop.product("TV-BIG", us="1200.00", units=3)
        body = order_body("US", [("TV-BIG", 1)], promo_code="WELCOME10")
        number = place(customer_api, body).json()["number"]
        assert customer_api.get(order_url(number)).json()["status"] == "on_hold"
        assert PromoCode.objects.get(code="WELCOME10").times_used == 1
        response = staff_api.post(order_url(number, "reject"), {"reason": "fraud"}, format="json")
        assert response.json()["status"] == "cancelled"
        assert PromoCode.objects.get(code="WELCOME10").times_used == 0

    def test_cancelled_cash_on_delivery_order_is_voided(self, shop, customer_api, place, on_commit):
        body = order_body("IN", [("TSHIRT-RED-M", 1)], payment_method="cod", payment_token="")
        number = place(customer_api, body).json()["number"]
        order = customer_api.get(order_url(number)).json()
        assert (order["status"], order["payment_status"]) == ("confirmed", "pending")

        with on_commit():
            response = customer_api.post(
                order_url(number, "cancel"), {"reason": "x"}, format="json"
            )

        assert response.json()["status"] == "cancelled"
        assert customer_api.get(order_url(number)).json()["payment_status"] == "voided"

    def test_cancel_before_the_worker_confirms(
        self, shop, customer_api, on_commit, django_capture_on_commit_callbacks
    ):
        from payments.gateways.test_gateway import TestGateway

        TestGateway.reset()
        with django_capture_on_commit_callbacks() as queued:
            response = customer_api.post("/api/v1/orders/", order_body("US"), format="json")
        number = response.json()["number"]
        with on_commit():
            cancel = customer_api.post(order_url(number, "cancel"), {"reason": "x"}, format="json")
        assert cancel.json()["status"] == "cancelled"
        for callback in queued:  # the worker picks up the confirmation late
            callback()

        order = customer_api.get(order_url(number)).json()
        assert order["status"] == "cancelled"
        assert order["payment_status"] == "voided"
        assert TestGateway.calls_for("authorize") == []
        assert level_of(shop.tshirt, shop.us_wh).reserved == 0
        assert_ledger_agrees()

    def test_declined_order_does_not_use_up_a_capped_promo(
        self, shop, customer_api, other_customer_api, place
    ):
        PromoCodeFactory(code="ONLY1", value=Decimal("10"), min_subtotal=0, max_uses=1)
        body = order_body("US", promo_code="ONLY1", payment_token="tok_chargeDeclined")
        number = place(customer_api, body).json()["number"]
        assert customer_api.get(order_url(number)).json()["status"] == "cancelled"

        response = place(other_customer_api, order_body("US", promo_code="ONLY1"))

        assert response.status_code == 201, response.json()
        assert response.json()["discount"] == "2.00"
