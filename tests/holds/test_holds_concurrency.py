"""Two reviewers release the last two holds of an order at the same moment:
both holds end released and the order moves on exactly once."""

from __future__ import annotations

import pytest

from orders.models import Hold, Order, OrderEvent
from orders.services.holds import hold_place, hold_release
from tests.factories import StaffFactory
from tests.orders.test_contention import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("rounds", range(3))
def test_releasing_the_last_two_holds_at_once_moves_the_order_on_once(rounds, confirmed_order):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    staff = [StaffFactory(), StaffFactory()]
    holds = [
        hold_place(order=order, reason=reason, note="", actor=staff[0])
        for reason in ("manual", "address_check")
    ]
    assert Order.objects.get(pk=order.pk).status == "on_hold"

    results = run_concurrently(
        2, lambda i: hold_release(hold_id=holds[i].pk, actor=staff[i], note=f"ok {i}")
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    order.refresh_from_db()
    assert order.status == "confirmed"
    assert order.hold_resume_status == ""
    assert not Hold.objects.filter(order=order, released_at__isnull=True).exists()
    moves = OrderEvent.objects.filter(order=order, from_status="on_hold", to_status="confirmed")
    assert moves.count() == 1


def test_two_reviewers_placing_the_same_reason_at_once_make_one_hold(confirmed_order):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    staff = [StaffFactory(), StaffFactory()]

    results = run_concurrently(
        2, lambda i: hold_place(order=order, reason="manual", note="", actor=staff[i])
    )

    placed = [r for r in results if isinstance(r, Hold)]
    refused = [r for r in results if not isinstance(r, Hold)]
    assert len(placed) == 1 and len(refused) == 1
    assert getattr(refused[0], "code", None) == "TRANSITION_NOT_ALLOWED"
    assert Hold.objects.filter(order=order, released_at__isnull=True).count() == 1
    assert Order.objects.get(pk=order.pk).status == "on_hold"
