"""Cancelled while authorizing: the customer cancels after the worker has read
the order as `pending` but before its confirm transaction. The order stays
cancelled and no authorization is kept."""

from __future__ import annotations

import pytest

from inventory.models import ReservationStatus
from orders.models import Order, OrderEvent
from orders.services import confirming
from orders.services.cancelling import order_cancel
from orders.services.confirming import order_confirm, order_settle_cancelled_payment
from orders.tasks import order_confirm as confirm_task
from orders.tasks import order_settle_cancelled_payment as settle_task
from payments.gateways.base import GatewayError
from payments.gateways.test_gateway import TestGateway
from payments.models import GatewayCall, Payment
from tests.orders.support import assert_ledger_agrees, level_of

from .helpers import place_order, releases_of, reservation_statuses


def assert_cancelled_and_voided(order: Order, shop) -> None:
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert order.cancel_reason == "changed my mind"
    assert order.payment_status == "voided"
    assert Payment.objects.get(order=order).status == "voided"
    statuses = list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True))
    assert statuses == ["pending", "cancelled"]  # never confirmed nor held
    assert order.confirmed_at is None and order.held_at is None
    assert reservation_statuses(order) == {ReservationStatus.RELEASED}
    assert releases_of(order).count() == 1
    assert level_of(shop.tshirt, shop.us_wh).reserved == 0
    assert_ledger_agrees()


def test_cancelled_after_authorization_before_the_confirm_transaction(
    shop, customer, monkeypatch, on_commit
):
    """The gateway authorized; the cancel commits (its settlement still queued)
    before the confirm transaction locks the order."""
    order = place_order(customer, [("TSHIRT-RED-M", 2)])
    real_authorize = confirming.payment_authorize

    def authorize_then_cancel(*, payment_id):
        payment = real_authorize(payment_id=payment_id)
        assert payment.status == "authorized"
        order_cancel(order=order, actor=customer, reason="changed my mind")
        return payment

    monkeypatch.setattr(confirming, "payment_authorize", authorize_then_cancel)

    with on_commit():
        result = order_confirm(order_id=order.pk)

    assert result.status == "cancelled"
    assert_cancelled_and_voided(order, shop)
    assert len(TestGateway.calls_for("authorize")) == 1
    [void] = TestGateway.calls_for("void")
    assert void.kwargs["reference"] == Payment.objects.get(order=order).reference


def test_cancelled_and_settled_while_the_gateway_was_authorizing(
    shop, customer, monkeypatch, on_commit
):
    """The cancel and its settlement both finish while the gateway call is in
    flight: the payment was voided as `pending`, so the authorization that comes
    back afterwards is released at the gateway."""
    order = place_order(customer, [("TSHIRT-RED-M", 2)])
    real_gateway_authorize = TestGateway.authorize

    def slow_authorize(self, **kwargs):
        with on_commit():
            order_cancel(order=order, actor=customer, reason="changed my mind")
        assert Payment.objects.get(order=order).status == "voided"
        assert TestGateway.calls_for("void") == []  # nothing to void yet
        return real_gateway_authorize(self, **kwargs)

    monkeypatch.setattr(TestGateway, "authorize", slow_authorize)

    with on_commit():
        result = order_confirm(order_id=order.pk)

    assert result.status == "cancelled"
    assert_cancelled_and_voided(order, shop)
    [authorize] = TestGateway.calls_for("authorize")
    [void] = TestGateway.calls_for("void")
    assert void.kwargs["reference"] == authorize.result.reference
    operations = sorted(
        GatewayCall.objects.filter(payment__order=order).values_list("operation", "ok")
    )
    assert operations == [("authorize", True), ("void", True)]


def test_cancelled_and_settled_between_authorization_and_the_confirm_transaction(
    shop, customer, monkeypatch, on_commit
):
    """The cancel's settlement voids the fresh authorization before the confirm
    transaction runs: the worker holds a stale `authorized` payment, and must
    still leave the order cancelled with its payment voided."""
    order = place_order(customer, [("TSHIRT-RED-M", 2)])
    real_authorize = confirming.payment_authorize

    def authorize_then_cancel_and_settle(*, payment_id):
        payment = real_authorize(payment_id=payment_id)
        with on_commit():
            order_cancel(order=order, actor=customer, reason="changed my mind")
        assert Payment.objects.get(order=order).status == "voided"
        return payment  # stale: still says authorized

    monkeypatch.setattr(confirming, "payment_authorize", authorize_then_cancel_and_settle)

    with on_commit():
        result = order_confirm(order_id=order.pk)

    assert result.status == "cancelled"
    assert_cancelled_and_voided(order, shop)
    assert len(TestGateway.calls_for("void")) == 1


def test_cancelled_before_the_worker_ran(shop, customer, on_commit):
    """The simple order of events: cancel, then the confirmation message arrives."""
    order = place_order(customer, [("TSHIRT-RED-M", 2)])
    with on_commit():
        order_cancel(order=order, actor=customer, reason="changed my mind")

    with on_commit():
        result = order_confirm(order_id=order.pk)

    assert result.status == "cancelled"
    assert_cancelled_and_voided(order, shop)
    assert TestGateway.calls == []  # nothing was ever authorized


def test_a_late_settlement_after_the_race_changes_nothing(shop, customer, monkeypatch, on_commit):
    order = place_order(customer, [("TSHIRT-RED-M", 2)])
    real_authorize = confirming.payment_authorize

    def authorize_then_cancel(*, payment_id):
        payment = real_authorize(payment_id=payment_id)
        order_cancel(order=order, actor=customer, reason="changed my mind")
        return payment

    monkeypatch.setattr(confirming, "payment_authorize", authorize_then_cancel)
    with on_commit():
        order_confirm(order_id=order.pk)

    order_settle_cancelled_payment(order_id=order.pk)
    assert len(TestGateway.calls_for("void")) == 1
    assert_cancelled_and_voided(order, shop)


def test_cancelled_after_an_authorization_whose_answer_was_lost(
    shop, customer, monkeypatch, on_commit
):
    """A timeout is not a decline: the gateway may have authorized and only the
    answer was lost. If the order is cancelled before the retry (by the
    customer, or by the expiry sweep during a gateway outage), that possible
    authorization must still be resolved and released, not left on the card."""
    order = place_order(customer, [("TSHIRT-RED-M", 2)])
    real_gateway_authorize = TestGateway.authorize

    def authorized_but_answer_lost(self, **kwargs):
        real_gateway_authorize(self, **kwargs)  # the gateway did authorize...
        raise GatewayError("read timeout")  # ...but the answer never arrived

    monkeypatch.setattr(TestGateway, "authorize", authorized_but_answer_lost)
    with pytest.raises(GatewayError):
        confirm_task.run(order.pk)  # the task will retry later
    monkeypatch.setattr(TestGateway, "authorize", real_gateway_authorize)
    [held_at_gateway] = TestGateway.calls_for("authorize")
    assert held_at_gateway.result.ok

    with on_commit():
        order_cancel(order=order, actor=customer, reason="changed my mind")
    with on_commit():
        confirm_task.run(order.pk)  # the retry arrives
    with on_commit():
        settle_task.run(order.pk)  # and a late settlement, for good measure

    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("cancelled", "voided")
    voids = TestGateway.calls_for("void")
    assert [v.kwargs["reference"] for v in voids] == [held_at_gateway.result.reference], (
        "the authorization made at the gateway was never voided"
    )
    assert not GatewayCall.objects.filter(payment__order=order, ok=None).exists()
