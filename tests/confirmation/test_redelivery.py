"""A task delivered twice (acks_late: a worker lost after the work but before the
ack gets the message again) changes nothing the second time."""

from __future__ import annotations

import pytest

from inventory.models import ReservationStatus, StockLevel
from orders.models import Order, OrderEvent
from orders.services.cancelling import order_cancel
from orders.tasks import order_confirm as confirm_task
from orders.tasks import order_settle_cancelled_payment as settle_task
from orders.tasks import order_sync_payment as sync_task
from payments.gateways.test_gateway import TestGateway
from payments.models import GatewayCall, Payment, Refund
from payments.services import payment_capture
from tests.orders.support import assert_ledger_agrees, assert_unchanged, snapshot

from .helpers import place_order, releases_of, reservation_statuses, reservations_of

LINES = [("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)]


def run_via(runner: str, task, *args):
    """Deliver a task the way a worker would: its body (`run`) or an eager `apply`."""
    if runner == "run":
        return task.run(*args)
    result = task.apply(args=list(args))
    assert result.successful(), result.traceback
    return result.get()


def transitions_to(order: Order, status: str) -> int:
    return OrderEvent.objects.filter(order=order, to_status=status).count()


@pytest.mark.parametrize("runner", ["run", "apply"])
def test_confirm_twice_authorizes_and_commits_once(shop, old_customer, runner):
    order = place_order(old_customer, LINES)

    assert run_via(runner, confirm_task, order.pk) == "confirmed"
    first = Order.objects.get(pk=order.pk)
    before = snapshot()

    assert run_via(runner, confirm_task, order.pk) == "confirmed"

    assert_unchanged(before)
    again = Order.objects.get(pk=order.pk)
    assert (again.status, again.payment_status) == ("confirmed", "authorized")
    assert again.updated_at == first.updated_at
    assert len(TestGateway.calls_for("authorize")) == 1
    assert GatewayCall.objects.filter(payment__order=order).count() == 1
    assert transitions_to(order, "confirmed") == 1
    assert reservations_of(order).count() == 2
    assert reservation_statuses(order) == {ReservationStatus.COMMITTED}
    assert_ledger_agrees()


@pytest.mark.parametrize("runner", ["run", "apply"])
def test_declined_twice_releases_stock_once(shop, old_customer, runner):
    order = place_order(old_customer, LINES, token="tok_chargeDeclined")

    assert run_via(runner, confirm_task, order.pk) == "cancelled"
    before = snapshot()
    assert run_via(runner, confirm_task, order.pk) == "cancelled"

    assert_unchanged(before)
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("cancelled", "failed")
    assert order.cancel_reason == "payment declined: card_declined"
    assert len(TestGateway.calls_for("authorize")) == 1
    assert GatewayCall.objects.filter(payment__order=order).count() == 1
    assert transitions_to(order, "cancelled") == 1
    reservations = list(reservations_of(order))
    assert len(reservations) == 2
    assert {r.status for r in reservations} == {ReservationStatus.RELEASED}
    assert releases_of(order).count() == len(reservations)  # one release row each
    assert sorted(releases_of(order).values_list("reserved_delta", flat=True)) == [-2, -1]
    assert all(level.reserved == 0 for level in StockLevel.objects.all())
    assert_ledger_agrees()


def test_held_twice_holds_once(shop, old_customer):
    order = place_order(old_customer, LINES, token="tok_riskHigh")
    assert confirm_task.run(order.pk) == "on_hold"
    before = snapshot()
    assert confirm_task.run(order.pk) == "on_hold"
    assert_unchanged(before)
    assert len(TestGateway.calls_for("authorize")) == 1
    assert transitions_to(order, "on_hold") == 1
    assert reservation_statuses(order) == {ReservationStatus.ACTIVE}


@pytest.mark.parametrize("runner", ["run", "apply"])
def test_settle_twice_voids_once(shop, old_customer, runner):
    order = place_order(old_customer, LINES)
    confirm_task.run(order.pk)
    # Cancelled by the customer; its settlement was queued on commit (not run in a db test).
    order_cancel(order=order, actor=old_customer, reason="changed my mind")

    assert run_via(runner, settle_task, order.pk) == "voided"
    before = snapshot()
    assert run_via(runner, settle_task, order.pk) == "voided"

    assert_unchanged(before)
    assert Payment.objects.get(order=order).status == "voided"
    assert Order.objects.get(pk=order.pk).payment_status == "voided"
    assert len(TestGateway.calls_for("void")) == 1
    assert GatewayCall.objects.filter(payment__order=order, operation="void").count() == 1


def test_settle_twice_refunds_a_capture_once(shop, old_customer):
    order = place_order(old_customer, LINES)
    confirm_task.run(order.pk)
    order.refresh_from_db()
    payment_capture(
        payment_id=order.payment.pk, amount=order.total, actor=None, idempotency_key="t"
    )
    order_cancel(order=order, actor=old_customer, reason="changed my mind")

    assert settle_task.run(order.pk) == "refunded"
    before = snapshot()
    assert settle_task.run(order.pk) == "refunded"

    assert_unchanged(before)
    [refund] = Refund.objects.filter(payment__order=order)
    assert (refund.amount, refund.status, refund.source) == (order.total, "succeeded", "cancel")
    assert len(TestGateway.calls_for("refund")) == 1
    assert TestGateway.calls_for("void") == []


def test_settle_of_a_cash_order_voids_without_the_gateway(shop, old_customer):
    order = place_order(old_customer, [("TSHIRT-RED-M", 1)], market="IN", method="cod")
    assert confirm_task.run(order.pk) == "confirmed"
    order_cancel(order=order, actor=old_customer, reason="x")
    assert settle_task.run(order.pk) == "voided"
    assert settle_task.run(order.pk) == "voided"
    assert TestGateway.calls == []


def test_settle_of_an_order_that_is_not_cancelled_does_nothing(shop, old_customer):
    order = place_order(old_customer)
    confirm_task.run(order.pk)
    before = snapshot()
    assert settle_task.run(order.pk) == "authorized"
    assert_unchanged(before)
    assert TestGateway.calls_for("void") == []


def test_sync_payment_status_mirrors_the_payment_once(shop, old_customer):
    order = place_order(old_customer)
    confirm_task.run(order.pk)
    # A gateway webhook captured the payment behind the order's back.
    Payment.objects.filter(order=order).update(status="captured", amount_captured=order.total)
    assert sync_task.run(order.pk) == "captured"
    stamp = Order.objects.get(pk=order.pk).updated_at
    before = snapshot()
    assert sync_task.run(order.pk) == "captured"
    assert_unchanged(before)
    assert Order.objects.get(pk=order.pk).updated_at == stamp
