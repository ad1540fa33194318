"""The returns endpoints as clients see them: who sees what, who may do what,
and the staff refund endpoint outside returns."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from orders.models import OrderEvent
from payments.models import Payment, Refund
from tests.factories import StaffFactory
from tests.orders.support import assert_error, detail_pairs

from .support import RETURNS_URL, delivered_order, open_return, return_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(shop, customer):
    return delivered_order(customer, "US", [("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)])


class TestCustomerEndpoints:
    def test_create_answer_shape(self, order, customer_api):
        response = open_return(
            customer_api, order, [("TSHIRT-RED-M", 1)], comment="Seam came apart."
        )
        assert response.status_code == 201
        body = response.json()
        for key in ("number", "status", "order", "reason", "items", "comment", "created_at"):
            assert key in body
        assert (body["status"], body["comment"], body["currency"]) == (
            "initiated",
            "Seam came apart.",
            "USD",
        )
        assert body["items"][0]["unit_price"] == "19.99"

    def test_list_is_own_and_paginated(self, shop, order, customer_api, other_customer_api):
        for sku in ("TSHIRT-RED-M", "HOODIE-GREY-M"):
            open_return(customer_api, order, [(sku, 1)])
        body = customer_api.get(RETURNS_URL, {"page_size": 1}).json()
        assert set(body) == {"count", "next", "previous", "results"}
        assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
        assert other_customer_api.get(RETURNS_URL).json()["count"] == 0

    def test_listing_does_not_query_per_return(self, shop, customer, customer_api):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        def queries() -> int:
            with CaptureQueriesContext(connection) as ctx:
                assert customer_api.get(RETURNS_URL).status_code == 200
            return len(ctx.captured_queries)

        order = delivered_order(customer, "US", [("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)])
        open_return(customer_api, order, [("TSHIRT-RED-M", 1), ("HOODIE-GREY-M", 1)])
        one = queries()
        for _ in range(2):
            open_return(customer_api, order, [("TSHIRT-RED-M", 1)])
        assert queries() == one

    def test_staff_see_every_return(self, order, customer_api, staff_api):
        open_return(customer_api, order, [("TSHIRT-RED-M", 1)])
        assert staff_api.get(RETURNS_URL).json()["count"] == 1
        assert staff_api.get(RETURNS_URL, {"status": "approved"}).json()["count"] == 0

    def test_someone_elses_return_is_not_found(self, order, customer_api, other_customer_api):
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        assert_error(other_customer_api.get(return_url(number)), 404, "NOT_FOUND")
        response = other_customer_api.post(return_url(number, "cancel"), {}, format="json")
        assert_error(response, 404, "NOT_FOUND")
        assert customer_api.get(return_url(number)).json()["status"] == "initiated"
        assert_error(customer_api.get(return_url("RMA-999999")), 404, "NOT_FOUND")

    def test_cancel(self, order, customer_api):
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        body = customer_api.post(return_url(number, "cancel"), {}, format="json").json()
        assert body["status"] == "cancelled"
        again = customer_api.post(return_url(number, "cancel"), {}, format="json")
        assert_error(again, 409, "TRANSITION_NOT_ALLOWED")

    def test_anonymous_is_refused(self, api):
        assert_error(api.get(RETURNS_URL), 401, "AUTHENTICATION_REQUIRED")


class TestStaffPermissions:
    @pytest.mark.parametrize(
        "action", ["approve", "reject", "schedule-pickup", "in-transit", "receive", "refund"]
    )
    def test_customers_cannot_run_the_workflow(self, order, customer_api, action):
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        response = customer_api.post(return_url(number, action), {"reason": "x"}, format="json")
        assert_error(response, 403, "PERMISSION_DENIED")

    def test_refund_needs_the_refund_permission(self, order, customer_api, client_for):
        user = StaffFactory()
        user.user_permissions.set(
            Permission.objects.filter(codename__in=["view_returnrequest", "change_returnrequest"])
        )
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        clerk = client_for(user)
        assert clerk.post(return_url(number, "approve"), {}, format="json").status_code == 200
        assert_error(
            clerk.post(return_url(number, "refund"), {}, format="json"), 403, "PERMISSION_DENIED"
        )

    def test_reject_needs_a_reason(self, order, customer_api, staff_api):
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        error = assert_error(
            staff_api.post(return_url(number, "reject"), {}, format="json"),
            400,
            "VALIDATION_FAILED",
        )
        assert detail_pairs(error) == [("reason", "REQUIRED")]


def refunds_url(number: str) -> str:
    return f"/api/v1/orders/{number}/refunds/"


class TestStaffRefunds:
    """Order total: 2 × 19.99 + 49.00 = 88.98, free shipping, 7.12 tax → 96.10."""

    def test_goodwill_refund_is_audited(self, order, staff_api, staff_user, notified):
        assert order.total == Decimal("96.10")
        response = staff_api.post(
            refunds_url(order.number), {"amount": "10.00", "reason": "late delivery"}, format="json"
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert {k: body[k] for k in ("amount", "currency", "status", "reason")} == {
            "amount": "10.00",
            "currency": "USD",
            "status": "succeeded",
            "reason": "late delivery",
        }
        assert "created_at" in body
        refund = Refund.objects.get()
        assert (refund.actor, refund.source) == (staff_user, "staff")
        event = OrderEvent.objects.filter(order=order).last()
        assert (event.from_status, event.to_status, event.actor) == (
            "delivered",
            "delivered",
            staff_user,
        )
        assert "late delivery" in event.reason and "10.00" in event.reason
        order.refresh_from_db()
        assert order.payment_status == "partially_refunded"
        assert (order.number, "refunded") in [(n, e) for n, e, _ in notified]
        listed = staff_api.get(refunds_url(order.number)).json()
        assert [r["amount"] for r in listed["results"]] == ["10.00"]

    def test_refunds_add_up_never_above_the_capture(self, order, staff_api):
        ok = staff_api.post(
            refunds_url(order.number), {"amount": "90.00", "reason": "a"}, format="json"
        )
        assert ok.status_code == 201
        over = staff_api.post(
            refunds_url(order.number), {"amount": "6.11", "reason": "b"}, format="json"
        )
        error = assert_error(over, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("amount", "REFUND_EXCEEDS_CAPTURED")]
        rest = staff_api.post(
            refunds_url(order.number), {"amount": "6.10", "reason": "c"}, format="json"
        )
        assert rest.status_code == 201
        payment = Payment.objects.get(order=order)
        assert payment.amount_refunded == payment.amount_captured
        order.refresh_from_db()
        assert order.payment_status == "refunded"

    def test_idempotency_key_refunds_once(self, order, staff_api):
        url, body = refunds_url(order.number), {"amount": "96.10", "reason": "all back"}
        first = staff_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        second = staff_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert Refund.objects.count() == 1
        assert OrderEvent.objects.filter(order=order, reason__contains="all back").count() == 1
        other = staff_api.post(
            url, {"amount": "1.00", "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
        )
        assert_error(other, 409, "IDEMPOTENCY_KEY_REUSED")

    def test_bad_input_and_access(self, shop, order, staff_api, customer_api, other_customer_api):
        error = assert_error(
            staff_api.post(
                refunds_url(order.number), {"amount": "-1", "reason": ""}, format="json"
            ),
            400,
            "VALIDATION_FAILED",
        )
        assert {d["field"] for d in error["details"]} == {"amount", "reason"}
        body = {"amount": "1.00", "reason": "x"}
        assert_error(
            customer_api.post(refunds_url(order.number), body, format="json"),
            403,
            "PERMISSION_DENIED",
        )
        assert_error(
            staff_api.post(refunds_url("US-999999"), body, format="json"), 404, "NOT_FOUND"
        )

    def test_nothing_captured_nothing_refunded(self, shop, customer, staff_api):
        order = delivered_order(customer, deliver=False)  # authorized only
        response = staff_api.post(
            refunds_url(order.number), {"amount": "1.00", "reason": "x"}, format="json"
        )
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("amount", "REFUND_EXCEEDS_CAPTURED")]
        assert not Refund.objects.exists()
