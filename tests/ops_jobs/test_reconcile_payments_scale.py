"""reconcile_payments at scale: clean orders are ruled out in SQL and never
loaded or checked one by one, while every order still counts in the progress
and drifted ones are still found (each kind: test_reconcile_payments.py)."""

from unittest import mock

import pytest

from jobs import payment_reconciliation
from jobs.payment_reconciliation import STATUS_MISMATCH, payment_drift
from orders.models import Order
from tests.ops_jobs.support import confirmed_order, shop


@pytest.fixture
def orders(db):
    shop()
    return [confirmed_order() for _ in range(3)]


def test_only_orders_that_may_have_drifted_are_checked(orders):
    drifted = orders[1]
    Order.objects.filter(pk=drifted.pk).update(payment_status="captured")
    checked, seen = [], []
    real_check = payment_reconciliation._check

    def spy(order, payment, facts, cutoff):
        checked.append(order.pk)
        return real_check(order, payment, facts, cutoff)

    with mock.patch.object(payment_reconciliation, "_check", side_effect=spy):
        drifts = payment_drift(progress=lambda done, total: seen.append((done, total)))

    assert [(d.order, d.kinds) for d in drifts] == [(drifted.number, [STATUS_MISMATCH])]
    assert checked == [drifted.pk]
    assert seen == [(3, 3)]


def test_suspects_are_checked_in_batches_in_order(orders):
    for order in orders:
        Order.objects.filter(pk=order.pk).update(payment_status="captured")

    drifts = payment_drift(batch=2)

    assert [d.order_id for d in drifts] == sorted(o.pk for o in orders)
