"""Races on real PostgreSQL row locks: threads with their own connections."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from payments.errors import CaptureExceedsAuthorized, RefundExceedsCaptured
from payments.gateways.test_gateway import TestGateway
from payments.models import Payment, Refund
from payments.services import payment_capture, payment_refund

from .factories import authorized_payment, captured_payment

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
        thread.join(timeout=30)
    return results


@pytest.fixture
def slow_gateway(monkeypatch):
    """Gateway calls take a while, so racing requests really overlap around them."""
    for name in ("refund", "capture"):
        real = getattr(TestGateway, name)

        def slow(self, _real=real, **kwargs):
            time.sleep(0.2)
            return _real(self, **kwargs)

        monkeypatch.setattr(TestGateway, name, slow)


def refund(payment_id, amount, key):
    return lambda: payment_refund(
        payment_id=payment_id,
        amount=Decimal(amount),
        reason="race",
        actor=None,
        idempotency_key=key,
    )


def test_two_racing_refunds_never_exceed_the_capture(slow_gateway):
    payment = captured_payment(amount="100.00")
    results = race([refund(payment.pk, "70.00", "a"), refund(payment.pk, "70.00", "b")])
    succeeded = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, RefundExceedsCaptured)]
    assert len(succeeded) == 1 and len(refused) == 1, results
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("70.00")
    assert payment.status == "partially_refunded"
    assert len(TestGateway.calls_for("refund")) == 1


def test_many_racing_refunds_fill_the_capture_exactly(slow_gateway):
    payment = captured_payment(amount="100.00")
    results = race([refund(payment.pk, "30.00", f"k{i}") for i in range(6)])
    succeeded = [r for r in results if isinstance(r, Refund)]
    assert len(succeeded) == 3, results
    assert all(isinstance(r, Refund | RefundExceedsCaptured) for r in results), results
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("90.00") <= payment.amount_captured
    assert Refund.objects.filter(status="succeeded").count() == 3
    assert not Refund.objects.filter(status="pending").exists()


def test_racing_duplicates_of_one_refund_refund_once(slow_gateway):
    payment = captured_payment(amount="100.00")
    results = race([refund(payment.pk, "40.00", "same") for _ in range(4)])
    assert Refund.objects.count() == 1
    refunds = [r for r in results if isinstance(r, Refund)]
    # The first caller refunds; the others either find it done or find it in flight
    # (OperationInProgress, a retryable GatewayError) -- none refunds again.
    assert refunds, results
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("40.00")
    assert len(TestGateway.calls_for("refund")) == 1


def test_racing_captures_never_exceed_the_authorization(slow_gateway):
    payment = authorized_payment(amount="100.00")
    results = race(
        [
            (
                lambda k=k: payment_capture(
                    payment_id=payment.pk, amount=Decimal("60.00"), actor=None, idempotency_key=k
                )
            )
            for k in ("ship-1", "ship-2")
        ]
    )
    assert sum(isinstance(r, Payment) for r in results) == 1, results
    assert sum(isinstance(r, CaptureExceedsAuthorized) for r in results) == 1, results
    payment.refresh_from_db()
    assert payment.amount_captured == Decimal("60.00")
