"""A gateway timeout is transient: the confirm service raises GatewayError having
changed nothing the customer can see, and the task retries it."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry
from celery.signals import task_retry

from inventory.models import ReservationStatus
from orders.models import Order, OrderEvent
from orders.services.confirming import order_confirm as confirm_service
from orders.tasks import order_confirm as confirm_task
from orders.tasks import order_settle_cancelled_payment as settle_task
from payments.errors import OperationInProgress
from payments.gateways.base import GatewayError
from payments.gateways.test_gateway import TestGateway
from payments.models import GatewayCall, Payment
from tests.orders.support import snapshot

from .helpers import place_order, reservation_statuses


def customer_visible_state(order: Order) -> dict:
    """What a timeout must leave alone: the order, its payment, its stock."""
    state = snapshot()
    fresh = Order.objects.get(pk=order.pk)
    payment = Payment.objects.get(order=order)
    return {
        "order": (fresh.status, fresh.payment_status, fresh.risk_score, fresh.risk_reasons),
        "updated_at": fresh.updated_at,
        "payment": (payment.status, payment.reference, payment.amount_authorized),
        "events": list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True)),
        "reservations": reservation_statuses(order),
        "levels": state["levels"],
    }


@pytest.fixture
def timing_out(shop, old_customer):
    return place_order(old_customer, [("TSHIRT-RED-M", 2)], token="tok_timeout")


def test_the_service_raises_and_the_order_stays_pending(timing_out):
    before = customer_visible_state(timing_out)

    with pytest.raises(GatewayError, match="simulated timeout"):
        confirm_service(order_id=timing_out.pk)

    assert customer_visible_state(timing_out) == before
    order = Order.objects.get(pk=timing_out.pk)
    assert (order.status, order.payment_status) == ("pending", "pending")
    assert reservation_statuses(order) == {ReservationStatus.ACTIVE}
    assert len(TestGateway.calls_for("authorize")) == 1
    # The only row written is the gateway-call intent, marked as failed for the retry.
    [call] = GatewayCall.objects.filter(payment__order=timing_out)
    assert call.operation == "authorize"
    assert call.ok is None and call.completed_at is None
    assert "simulated timeout" in call.error
    assert call.attempts == 1


@pytest.mark.parametrize("task", [confirm_task, settle_task], ids=["confirm", "settle"])
def test_the_tasks_autoretry_on_gateway_and_database_errors(task, settings):
    from django.db import InterfaceError, OperationalError

    assert set(task.autoretry_for) == {GatewayError, OperationalError, InterfaceError}
    # Backoff stays under the Redis visibility timeout (a countdown waits unacked),
    # and the retries fill the retry window instead.
    assert task.retry_backoff_max * 2 <= settings.CELERY_VISIBILITY_TIMEOUT
    assert task.max_retries * task.retry_backoff_max >= 600
    assert task.retry_backoff
    assert task.retry_jitter is True
    assert task.acks_late is True
    assert issubclass(OperationInProgress, GatewayError)  # "someone else is calling" retries too


def test_apply_ends_in_a_retry_not_a_changed_order(timing_out):
    """Eager `apply` with propagation (the test settings) surfaces the retry the
    worker would schedule as `celery.exceptions.Retry`, after one gateway call."""
    before = customer_visible_state(timing_out)

    with pytest.raises(Retry) as info:
        confirm_task.apply(args=[timing_out.pk])

    retry = info.value
    assert isinstance(retry.exc, GatewayError)
    assert list(retry.sig.args) == [timing_out.pk]
    assert retry.sig.options["retries"] == 1
    assert 0 <= retry.when <= 300  # exponential backoff with jitter, capped
    assert len(TestGateway.calls_for("authorize")) == 1
    assert customer_visible_state(timing_out) == before


def test_apply_without_propagation_puts_the_task_in_retry_state(timing_out):
    """throw=False: the first attempt ends in RETRY (the tracer sends task_retry).
    Celery 5.7's eager `apply` then re-runs the retry at once with the default
    (propagating) settings, whose own Retry is what comes out."""
    before = customer_visible_state(timing_out)
    retried = []

    def on_retry(sender, reason, **kwargs):
        retried.append((sender.name, reason))

    task_retry.connect(on_retry, weak=False)
    try:
        with pytest.raises(Retry):
            confirm_task.apply(args=[timing_out.pk], throw=False)
    finally:
        task_retry.disconnect(on_retry)

    [(name, reason)] = retried
    assert name == "orders.tasks.order_confirm"
    assert isinstance(reason, Retry) and isinstance(reason.exc, GatewayError)
    calls = TestGateway.calls_for("authorize")
    assert len(calls) == 2  # the attempt and its immediate eager retry
    assert calls[0].kwargs["idempotency_key"] == calls[1].kwargs["idempotency_key"]
    assert customer_visible_state(timing_out) == before


def test_the_last_allowed_attempt_gives_up_with_the_gateway_error(timing_out):
    before = customer_visible_state(timing_out)
    with pytest.raises(Retry):
        confirm_task.apply(args=[timing_out.pk], retries=confirm_task.max_retries - 1)
    with pytest.raises(GatewayError, match="simulated timeout"):
        confirm_task.apply(args=[timing_out.pk], retries=confirm_task.max_retries)
    assert customer_visible_state(timing_out) == before
    [call] = GatewayCall.objects.filter(payment__order=timing_out)
    assert call.attempts == 2


def test_a_retry_after_the_timeout_confirms_with_the_same_key(timing_out):
    with pytest.raises(GatewayError):
        confirm_task.run(timing_out.pk)
    # The gateway recovers (the token stands in for "answers this time").
    Payment.objects.filter(order=timing_out).update(token="tok_visa")

    assert confirm_task.run(timing_out.pk) == "confirmed"

    calls = TestGateway.calls_for("authorize")
    assert len(calls) == 2
    assert calls[0].kwargs["idempotency_key"] == calls[1].kwargs["idempotency_key"]
    [call] = GatewayCall.objects.filter(payment__order=timing_out)
    assert (call.ok, call.attempts, call.error) == (True, 2, "")
    order = Order.objects.get(pk=timing_out.pk)
    assert (order.status, order.payment_status) == ("confirmed", "authorized")
    assert OrderEvent.objects.filter(order=order, to_status="confirmed").count() == 1


def test_a_redelivery_while_the_call_is_in_flight_retries_later(timing_out):
    with pytest.raises(GatewayError):
        confirm_task.run(timing_out.pk)
    # As if another worker had just started the same call and not answered yet.
    GatewayCall.objects.filter(payment__order=timing_out).update(error="")
    before = customer_visible_state(timing_out)
    TestGateway.reset()

    with pytest.raises(OperationInProgress):
        confirm_task.run(timing_out.pk)

    assert TestGateway.calls == []
    assert customer_visible_state(timing_out) == before
