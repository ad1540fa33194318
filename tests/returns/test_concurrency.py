"""Races on real PostgreSQL row locks, with threads on their own connections:
refunds never exceed what was captured, a return is refunded once however
often its worker runs, and racing returns cannot claim the same units."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import ValidationFailed
from orders.services.refunds import order_refund
from payments.errors import OperationInProgress
from payments.gateways.test_gateway import TestGateway
from payments.models import Payment, Refund, RefundStatus
from returns.models import ReturnRequest
from returns.services import (
    ReceivedItemInput,
    ReturnItemInput,
    return_approve,
    return_create,
    return_receive,
    return_refund_issue,
    return_request_refund,
    return_schedule_pickup,
)

from .support import delivered_order

pytestmark = pytest.mark.django_db(transaction=True)


def race(workers):
    """Start every worker at once; return each one's result or exception."""
    barrier = threading.Barrier(len(workers))
    results = [None] * len(workers)

    def run(index, work):
        try:
            barrier.wait()
            results[index] = work()
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def slow_gateway(monkeypatch):
    """Refunds take a while at the gateway, so racing requests really overlap."""
    real = TestGateway.refund

    def slow(self, **kwargs):
        time.sleep(0.2)
        return real(self, **kwargs)

    monkeypatch.setattr(TestGateway, "refund", slow)


@pytest.fixture
def no_worker(monkeypatch):
    """Leave processed returns for the test to refund (no task on commit)."""
    monkeypatch.setattr("returns.services.workflow._enqueue_refund", lambda rr: None)


def processed_return(customer, staff, order, sku: str, reason: str) -> ReturnRequest:
    rr = return_create(
        user=customer,
        order_number=order.number,
        reason=reason,
        items=[ReturnItemInput(sku=sku, quantity=1)],
    )
    rr = return_approve(rr=rr, actor=staff)
    rr = return_schedule_pickup(rr=rr, actor=staff)
    rr = return_receive(rr=rr, actor=staff, items=[ReceivedItemInput(sku, 1, "resellable")])
    return return_request_refund(rr=rr, actor=staff)


def assert_within_capture(payment: Payment) -> None:
    payment.refresh_from_db()
    succeeded = sum(
        Refund.objects.filter(payment=payment, status=RefundStatus.SUCCEEDED).values_list(
            "amount", flat=True
        ),
        Decimal("0.00"),
    )
    assert payment.amount_refunded == succeeded <= payment.amount_captured
    assert not Refund.objects.filter(status=RefundStatus.PENDING).exists()


def test_return_refund_racing_a_staff_refund_never_exceeds_the_capture(
    shop, customer, staff_user, slow_gateway, no_worker
):
    # One hoodie: 49.00 + 5.99 shipping + 3.92 tax = 58.91, all of it due back
    # for a defective item.
    order = delivered_order(customer, "US", [("HOODIE-GREY-M", 1)])
    rr = processed_return(customer, staff_user, order, "HOODIE-GREY-M", "defective")

    results = race(
        [
            lambda: return_refund_issue(return_id=rr.pk),
            lambda: order_refund(
                order=order, amount=Decimal("30.00"), reason="goodwill", actor=staff_user
            ),
        ]
    )
    returned, staff = results
    assert isinstance(returned, ReturnRequest), results
    payment = Payment.objects.get(order=order)
    assert_within_capture(payment)
    rr.refresh_from_db()
    assert rr.status == "refunded"
    assert rr.refund_due == Decimal("58.91")
    if isinstance(staff, Refund):  # the staff refund got in first: the return is capped
        assert rr.refund_amount == Decimal("28.91")
        assert rr.refund_note.startswith("capped")
    else:
        assert isinstance(staff, ValidationFailed), results
        assert staff.details[0]["code"] == "REFUND_EXCEEDS_CAPTURED"
        assert rr.refund_amount == Decimal("58.91")
    assert payment.amount_refunded == Decimal("58.91")


def test_two_returns_racing_for_what_is_left(shop, customer, staff_user, slow_gateway, no_worker):
    # Two hoodies: 98.00, free shipping, 7.84 tax = 105.84; 60.00 already refunded.
    order = delivered_order(customer, "US", [("HOODIE-GREY-M", 2)])
    order_refund(order=order, amount=Decimal("60.00"), reason="goodwill", actor=staff_user)
    first = processed_return(customer, staff_user, order, "HOODIE-GREY-M", "no_longer_needed")
    second = processed_return(customer, staff_user, order, "HOODIE-GREY-M", "no_longer_needed")

    results = race([lambda r=r: return_refund_issue(return_id=r.pk) for r in (first, second)])
    assert all(isinstance(r, ReturnRequest) for r in results), results
    payment = Payment.objects.get(order=order)
    assert_within_capture(payment)
    assert payment.amount_refunded == payment.amount_captured == Decimal("105.84")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "refunded"
    assert first.refund_due == second.refund_due == Decimal("52.92")
    assert first.refund_amount + second.refund_amount == Decimal("45.84")


def test_the_same_return_refunded_by_two_workers_refunds_once(
    shop, customer, staff_user, slow_gateway, no_worker
):
    order = delivered_order(customer, "US", [("HOODIE-GREY-M", 1)])
    rr = processed_return(customer, staff_user, order, "HOODIE-GREY-M", "defective")

    results = race([lambda: return_refund_issue(return_id=rr.pk) for _ in range(2)])
    # The loser either finds the refund done or in flight (a retryable error).
    assert all(isinstance(r, ReturnRequest | OperationInProgress) for r in results), results
    return_refund_issue(return_id=rr.pk)  # what the task's retry does
    rr.refresh_from_db()
    assert rr.status == "refunded"
    assert Refund.objects.count() == 1
    assert len(TestGateway.calls_for("refund")) == 1
    assert_within_capture(Payment.objects.get(order=order))


def test_racing_returns_cannot_claim_the_same_units(shop, customer):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 2)])

    def claim():
        return return_create(
            user=customer,
            order_number=order.number,
            reason="defective",
            items=[ReturnItemInput(sku="TSHIRT-RED-M", quantity=2)],
        )

    results = race([claim, claim, claim])
    opened = [r for r in results if isinstance(r, ReturnRequest)]
    refused = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(opened) == 1 and len(refused) == 2, results
    assert all(r.details[0]["code"] == "RETURN_QUANTITY_EXCEEDED" for r in refused)
    assert ReturnRequest.objects.count() == 1


def test_a_refund_slipping_in_after_planning_makes_the_worker_replan(
    shop, customer, staff_user, monkeypatch, no_worker
):
    """Deterministic version of the race: a staff refund lands between the
    worker's plan and its payment_refund; payments refuses the stale amount and
    the worker plans again with what is left."""
    from returns.services import refunding

    order = delivered_order(customer, "US", [("HOODIE-GREY-M", 1)])  # 58.91
    rr = processed_return(customer, staff_user, order, "HOODIE-GREY-M", "defective")
    real_plan, plans = refunding._plan, []

    def plan_then_interfere(return_id):
        plan = real_plan(return_id)
        plans.append(plan.amount)
        if len(plans) == 1:
            order_refund(order=order, amount=Decimal("30.00"), reason="goodwill", actor=staff_user)
        return plan

    monkeypatch.setattr(refunding, "_plan", plan_then_interfere)
    rr = return_refund_issue(return_id=rr.pk)
    assert plans == [Decimal("58.91"), Decimal("28.91")]
    assert (rr.status, rr.refund_amount) == ("refunded", Decimal("28.91"))
    assert_within_capture(Payment.objects.get(order=order))
