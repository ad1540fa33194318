"""What ends an order after confirmation gives the money back: a cancel voids an
authorization or refunds a capture; review approves (stock committed) or rejects
(stock released, payment voided), and only reviewers may."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from core.errors import TransitionNotAllowed
from inventory.models import ReservationStatus
from orders.models import Order, OrderEvent
from orders.services.cancelling import order_cancel
from orders.services.confirming import (
    order_approve,
    order_claim,
    order_confirm,
    order_reject,
)
from orders.tasks import order_settle_cancelled_payment as settle_task
from payments.gateways.base import GatewayError
from payments.gateways.test_gateway import TestGateway
from payments.models import Payment, Refund
from payments.services import payment_capture, payment_refund
from tests.factories import StaffFactory
from tests.orders.support import (
    assert_error,
    assert_ledger_agrees,
    assert_unchanged,
    level_of,
    order_url,
    snapshot,
)

from .helpers import place_order, releases_of, reservation_statuses, reservations_of


def confirmed_order(customer, lines=(("TSHIRT-RED-M", 3),), token="tok_visa") -> Order:
    order = place_order(customer, lines, token=token)
    order_confirm(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


def reviewer(*, perms=("review_order", "view_order"), staff: bool = True):
    user = StaffFactory(is_staff=staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="orders", codename__in=perms)
    )
    return user


@pytest.fixture
def held(shop, customer):
    order = confirmed_order(customer, token="tok_riskHigh")
    assert order.status == "on_hold"
    assert order.payment_status == "authorized"
    return order


class TestCancelSettlesThePayment:
    def test_cancel_voids_an_authorization(self, shop, customer, on_commit):
        order = confirmed_order(customer)
        assert order.payment_status == "authorized"

        with on_commit():
            order_cancel(order=order, actor=customer, reason="changed my mind")

        order.refresh_from_db()
        assert (order.status, order.payment_status) == ("cancelled", "voided")
        payment = Payment.objects.get(order=order)
        assert payment.status == "voided"
        assert payment.void_reason == "changed my mind"
        [void] = TestGateway.calls_for("void")
        assert void.kwargs["reference"] == payment.reference
        assert TestGateway.calls_for("refund") == []

    def test_cancel_refunds_a_capture(self, shop, customer, on_commit):
        order = confirmed_order(customer)
        payment_capture(
            payment_id=order.payment.pk, amount=order.total, actor=None, idempotency_key="t"
        )
        assert Payment.objects.get(order=order).status == "captured"
        assert not any(line.quantity_shipped for line in order.lines.all())  # still cancellable

        with on_commit():
            order_cancel(order=order, actor=customer, reason="changed my mind")

        order.refresh_from_db()
        assert (order.status, order.payment_status) == ("cancelled", "refunded")
        payment = Payment.objects.get(order=order)
        assert payment.status == "refunded"
        assert payment.amount_refunded == payment.amount_captured == order.total
        [refund] = Refund.objects.filter(payment=payment)
        assert (refund.amount, refund.status, refund.source) == (order.total, "succeeded", "cancel")
        assert len(TestGateway.calls_for("refund")) == 1
        assert TestGateway.calls_for("void") == []

    def test_cancel_refunds_only_what_a_partial_capture_took(self, shop, customer, on_commit):
        order = confirmed_order(customer)
        payment_capture(
            payment_id=order.payment.pk, amount=Decimal("10.00"), actor=None, idempotency_key="t"
        )

        with on_commit():
            order_cancel(order=order, actor=customer, reason="x")

        [refund] = Refund.objects.filter(payment__order=order)
        assert str(refund.amount) == "10.00"
        assert Payment.objects.get(order=order).status == "refunded"
        assert Order.objects.get(pk=order.pk).payment_status == "refunded"

    def test_cancel_with_a_refund_still_pending_refunds_the_rest(
        self, shop, customer, on_commit, monkeypatch
    ):
        """A staff refund of 5.00 timed out (it stays `pending`, holding its share).
        The cancel's settlement must not try to refund that share a second time
        (refused as more than captured, a non-retryable error that leaves the
        money with us); once the pending refund goes through, all of it is back."""
        order = confirmed_order(customer)
        payment_capture(
            payment_id=order.payment.pk, amount=order.total, actor=None, idempotency_key="t"
        )
        real_refund = TestGateway.refund

        def timeout(self, **kwargs):
            raise GatewayError("read timeout")

        monkeypatch.setattr(TestGateway, "refund", timeout)
        with pytest.raises(GatewayError):
            payment_refund(
                payment_id=order.payment.pk,
                amount=Decimal("5.00"),
                reason="goodwill",
                actor=None,
                idempotency_key="staff-1",
            )
        monkeypatch.setattr(TestGateway, "refund", real_refund)

        try:
            with on_commit():
                order_cancel(order=order, actor=customer, reason="x")
        except GatewayError:
            pass  # waiting for the pending refund is fine: the task retries it
        payment_refund(  # the staff refund's own retry
            payment_id=order.payment.pk,
            amount=Decimal("5.00"),
            reason="goodwill",
            actor=None,
            idempotency_key="staff-1",
        )
        settle_task.run(order.pk)  # a retried (or late) settlement

        payment = Payment.objects.get(order=order)
        assert Order.objects.get(pk=order.pk).status == "cancelled"
        assert payment.amount_refunded == payment.amount_captured == order.total
        assert payment.status == "refunded"
        assert Order.objects.get(pk=order.pk).payment_status == "refunded"
        refunds = Refund.objects.filter(payment=payment, status="succeeded")
        assert sum(r.amount for r in refunds) == order.total

    def test_cancel_is_refused_once_anything_shipped(self, shop, customer, on_commit):
        order = confirmed_order(customer)
        order.lines.update(quantity_shipped=1)
        before = snapshot()
        with pytest.raises(TransitionNotAllowed), on_commit():
            order_cancel(order=order, actor=customer, reason="x")
        assert_unchanged(before)
        assert TestGateway.calls_for("void") == []

    def test_customer_cancel_through_the_api(self, shop, customer, customer_api, on_commit):
        order = confirmed_order(customer)
        assert reservation_statuses(order) == {ReservationStatus.COMMITTED}
        assert level_of(shop.tshirt, shop.us_wh).reserved == 3

        with on_commit():
            response = customer_api.post(
                order_url(order.number, "cancel"), {"reason": "found it cheaper"}, format="json"
            )

        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "cancelled"
        level = level_of(shop.tshirt, shop.us_wh)
        assert (level.on_hand, level.reserved) == (50, 0)
        assert reservation_statuses(order) == {ReservationStatus.RELEASED}
        [release] = releases_of(order)
        assert release.reserved_delta == -3 and release.actor == customer
        assert Payment.objects.get(order=order).status == "voided"
        assert customer_api.get(order_url(order.number)).json()["payment_status"] == "voided"
        assert len(TestGateway.calls_for("void")) == 1
        assert_ledger_agrees()


class TestReviewApi:
    def test_reject_cancels_releases_and_voids(self, shop, held, client_for, on_commit):
        staff = reviewer()
        api = client_for(staff)

        with on_commit():
            response = api.post(
                order_url(held.number, "reject"), {"reason": "stolen card pattern"}, format="json"
            )

        assert response.status_code == 200, response.json()
        # The response is written before the settlement runs (on commit).
        assert response.json()["status"] == "cancelled"
        order = Order.objects.get(pk=held.pk)
        assert order.payment_status == "voided"
        assert order.cancel_reason == "rejected in review: stolen card pattern"
        assert reservation_statuses(order) == {ReservationStatus.RELEASED}
        assert level_of(shop.tshirt, shop.us_wh).reserved == 0
        assert releases_of(order).count() == reservations_of(order).count() == 1
        assert Payment.objects.get(order=order).status == "voided"
        assert len(TestGateway.calls_for("void")) == 1
        event = OrderEvent.objects.filter(order=order).last()
        assert (event.from_status, event.to_status, event.actor, event.reason) == (
            "on_hold",
            "cancelled",
            staff,
            "stolen card pattern",
        )
        assert_ledger_agrees()

    def test_approve_confirms_and_commits(self, shop, held, client_for):
        staff = reviewer()
        response = client_for(staff).post(
            order_url(held.number, "approve"), {"note": "called the customer"}, format="json"
        )

        assert response.status_code == 200, response.json()
        assert (response.json()["status"], response.json()["payment_status"]) == (
            "confirmed",
            "authorized",
        )
        order = Order.objects.get(pk=held.pk)
        assert order.confirmed_at is not None
        assert reservation_statuses(order) == {ReservationStatus.COMMITTED}
        assert level_of(shop.tshirt, shop.us_wh).reserved == 3
        event = OrderEvent.objects.filter(order=order).last()
        assert (event.to_status, event.actor, event.reason) == (
            "confirmed",
            staff,
            "called the customer",
        )
        assert TestGateway.calls_for("void") == []

    @pytest.mark.parametrize(
        ("perms", "staff"),
        [
            (("view_order",), True),  # staff without review_order
            (("review_order", "view_order"), False),  # has the perms but is not staff
        ],
    )
    @pytest.mark.parametrize("action", ["approve", "reject"])
    def test_without_the_review_permission_is_403(
        self, shop, held, client_for, on_commit, perms, staff, action
    ):
        api = client_for(reviewer(perms=perms, staff=staff))
        before = snapshot()
        with on_commit():
            response = api.post(order_url(held.number, action), {"reason": "x"}, format="json")
        assert_error(response, 403, "PERMISSION_DENIED")
        assert_unchanged(before)
        assert Order.objects.get(pk=held.pk).status == "on_hold"
        assert TestGateway.calls_for("void") == []

    def test_a_customer_cannot_review_their_own_order(self, held, customer_api):
        response = customer_api.post(order_url(held.number, "approve"), {}, format="json")
        assert_error(response, 403, "PERMISSION_DENIED")
        assert Order.objects.get(pk=held.pk).status == "on_hold"

    @pytest.mark.parametrize("action", ["approve", "reject"])
    def test_on_a_confirmed_order_is_409(self, shop, customer, client_for, on_commit, action):
        order = confirmed_order(customer)
        api = client_for(reviewer())
        before = snapshot()
        with on_commit():
            response = api.post(order_url(order.number, action), {"reason": "x"}, format="json")
        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")
        assert_unchanged(before)

    def test_approving_twice_is_409_the_second_time(self, held, client_for):
        api = client_for(reviewer())
        assert api.post(order_url(held.number, "approve"), {}, format="json").status_code == 200
        before = snapshot()
        response = api.post(order_url(held.number, "approve"), {}, format="json")
        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")
        assert_unchanged(before)

    def test_unknown_order_is_404(self, shop, client_for):
        response = client_for(reviewer()).post(order_url("US-999999", "approve"), {}, format="json")
        assert_error(response, 404, "NOT_FOUND")


class TestReviewServices:
    def test_claim_marks_the_reviewer(self, held):
        staff = reviewer()
        order = order_claim(order=held, actor=staff)
        fresh = Order.objects.get(pk=held.pk)
        assert (fresh.reviewer, fresh.status) == (staff, "on_hold")
        assert fresh.claimed_at is not None and order.reviewer == staff

    def test_claim_of_an_order_not_held_is_refused(self, shop, customer):
        order = confirmed_order(customer)
        with pytest.raises(TransitionNotAllowed):
            order_claim(order=order, actor=reviewer())
        assert Order.objects.get(pk=order.pk).reviewer is None

    def test_reject_then_approve_is_refused(self, held, on_commit):
        staff = reviewer()
        with on_commit():
            order_reject(order=held, actor=staff, reason="fraud")
        before = snapshot()
        with pytest.raises(TransitionNotAllowed):
            order_approve(order=held, actor=staff)
        assert_unchanged(before)
        assert Payment.objects.get(order=held).status == "voided"


class TestPromoUseComesBack:
    """A cancelled order gives its promo use back (order_cancel does); so should
    the other two ways the confirmation step ends an order."""

    def test_customer_cancel_returns_it(self, shop, customer):
        order = place_order(customer, [("TSHIRT-RED-M", 2)], promo="WELCOME10")
        order_confirm(order_id=order.pk)
        order_cancel(order=order, actor=customer, reason="x")
        shop.promo.refresh_from_db()
        assert shop.promo.times_used == 0

    def test_declined_payment_returns_it(self, shop, customer):
        order = place_order(
            customer, [("TSHIRT-RED-M", 2)], promo="WELCOME10", token="tok_chargeDeclined"
        )
        assert order_confirm(order_id=order.pk).status == "cancelled"
        shop.promo.refresh_from_db()
        assert shop.promo.times_used == 0

    def test_review_reject_returns_it(self, shop, customer):
        order = place_order(
            customer, [("TSHIRT-RED-M", 2)], promo="WELCOME10", token="tok_riskHigh"
        )
        assert order_confirm(order_id=order.pk).status == "on_hold"
        order_reject(order=order, actor=reviewer(), reason="fraud")
        shop.promo.refresh_from_db()
        assert shop.promo.times_used == 0
