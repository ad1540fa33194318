"""Authorizations about to lapse: the shipped share is captured (once, even with
two runners), everything else is flagged for staff with an audit note."""

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest

from jobs.authorization_expiry import authorizations_settle_expiring
from jobs.tasks import settle_expiring_authorizations
from orders.models import Order, OrderEvent
from payments.gateways.test_gateway import TestGateway
from payments.models import GatewayCall, Payment
from payments.services import payment_capture
from tests.ops_jobs.support import (
    age_authorization,
    command,
    concurrently,
    confirmed_order,
    mark_shipped,
    shop,
)


@pytest.fixture
def market(db):
    shop()


def notes(order: Order) -> list[OrderEvent]:
    return list(
        OrderEvent.objects.filter(order=order, reason__startswith="authorization expiry check")
    )


def test_young_authorizations_are_left_alone(market):
    order = confirmed_order()
    mark_shipped(order)
    age_authorization(order, days=5)  # test gateway: 7 days, warned 24 h before
    assert authorizations_settle_expiring() == []
    age_authorization(order, days=6, hours=1)
    assert [o.order for o in authorizations_settle_expiring(dry_run=True)] == [order.number]


def test_fully_shipped_and_uncaptured_is_captured_in_full(market):
    order = confirmed_order()
    mark_shipped(order)
    age_authorization(order, days=6, hours=12)

    [outcome] = authorizations_settle_expiring()

    assert (outcome.action, outcome.amount) == ("captured", order.total)
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.amount_captured) == ("captured", order.total)
    [call] = TestGateway.calls_for("capture")
    assert call.kwargs["amount"] == order.total
    assert "authorization-expiry-" in call.kwargs["idempotency_key"]
    order.refresh_from_db()
    assert order.payment_status == "captured"  # mirrored on the order
    [note] = notes(order)
    assert (note.from_status, note.to_status, note.actor) == ("shipped", "shipped", None)
    assert f"captured {order.total}" in note.reason

    assert authorizations_settle_expiring() == []  # nothing held any more
    assert len(TestGateway.calls_for("capture")) == 1


def test_partially_shipped_captures_the_shipped_share_and_warns_about_the_rest(market):
    order = confirmed_order()  # 2 × 19.99 shirts and a 12.50 mug
    mark_shipped(order, ["MUG-BLUE"])
    age_authorization(order, days=6, hours=12)

    [outcome] = authorizations_settle_expiring()

    goods = order.total - order.shipping
    share = (goods * Decimal("12.50") / order.subtotal).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    assert (outcome.action, outcome.amount) == ("captured", order.shipping + share)
    payment = Payment.objects.get(order=order)
    assert payment.amount_captured == order.shipping + share
    [note] = notes(order)
    assert "unshipped rest" in note.reason and note.to_status == "partially_shipped"

    # Later runs capture nothing more; the rest stays flagged, once per day.
    for _ in range(2):
        [again] = authorizations_settle_expiring()
        assert again.action == "flagged" and "unshipped rest" in again.reason
    assert len(TestGateway.calls_for("capture")) == 1
    assert len(notes(order)) == 2


def test_shipments_capture_in_flight_is_not_captured_twice(market):
    order = confirmed_order()
    mark_shipped(order)
    age_authorization(order, days=6, hours=12)
    payment = Payment.objects.get(order=order)
    GatewayCall.objects.create(
        payment=payment,
        gateway="test",
        operation="capture",
        idempotency_key=f"{payment.uid}:capture:shipment-X",
        amount=order.total,
    )
    [outcome] = authorizations_settle_expiring()
    assert outcome.action == "nothing"
    assert TestGateway.calls_for("capture") == []


@pytest.mark.parametrize(
    ("error", "action"),
    [("", "nothing"), ("card_expired", "flagged")],
    ids=["planned-capture-still-to-come", "capture-refused"],
)
def test_shipment_captures_are_left_to_the_ship_worker(market, error, action):
    from fulfillment.models import Shipment
    from inventory.models import Warehouse

    order = confirmed_order()
    mark_shipped(order)
    age_authorization(order, days=6, hours=12)
    Shipment.objects.create(
        number="SH-TEST-1",
        order=order,
        warehouse=Warehouse.objects.get(code="US-EAST"),
        status="shipped",
        capture_amount=order.total,
        capture_error=error,
    )
    [outcome] = authorizations_settle_expiring()
    assert outcome.action == action
    if error:
        assert "refused the capture of shipment(s) SH-TEST-1 (card_expired)" in outcome.reason
    assert TestGateway.calls_for("capture") == []


def test_nothing_shipped_is_flagged_for_staff_once_a_day(market, caplog):
    order = confirmed_order()
    age_authorization(order, days=7, hours=1)  # already lapsed: still flagged

    for _ in range(2):
        [outcome] = authorizations_settle_expiring()
        assert outcome.action == "flagged" and "nothing shipped yet" in outcome.reason

    assert TestGateway.calls_for("capture") == []
    [note] = notes(order)
    assert (note.from_status, note.to_status, note.actor_name) == (
        "confirmed",
        "confirmed",
        "system",
    )
    assert "needs staff" in caplog.text
    assert Payment.objects.get(order=order).status == "authorized"


def test_gateway_without_partial_capture_is_flagged_not_captured(market):
    order = confirmed_order()
    mark_shipped(order, ["MUG-BLUE"])
    Payment.objects.filter(order=order).update(gateway="razorpay")
    age_authorization(order, days=4, hours=12)  # razorpay: 5 days

    [outcome] = authorizations_settle_expiring()

    assert outcome.action == "flagged" and "captures only the full" in outcome.reason
    assert TestGateway.calls_for("capture") == []


def test_cancelled_order_still_holding_an_authorization_is_flagged(market):
    order = confirmed_order()
    Order.objects.filter(pk=order.pk).update(status="cancelled")
    age_authorization(order, days=6, hours=12)
    [outcome] = authorizations_settle_expiring()
    assert outcome.action == "flagged" and "void it" in outcome.reason


def test_cash_on_delivery_and_captured_payments_are_not_looked_at(market):
    cod = confirmed_order(market="IN", method="cod")
    paid = confirmed_order()
    payment = Payment.objects.get(order=paid)
    payment_capture(payment_id=payment.pk, amount=paid.total, actor=None, idempotency_key="all")
    age_authorization(cod, days=30)
    age_authorization(paid, days=30)
    assert authorizations_settle_expiring() == []


def test_command_dry_run_json_and_task(market):
    order = confirmed_order()
    mark_shipped(order)
    age_authorization(order, days=6, hours=12)

    code, out = command("settle_expiring_authorizations", "--dry-run", "--json")
    [planned] = json.loads(out)["payments"]
    assert code == 0 and (planned["order"], planned["action"]) == (order.number, "capture")
    assert TestGateway.calls_for("capture") == [] and notes(order) == []

    code, out = command("settle_expiring_authorizations")
    assert f"{order.number} (payment" in out and "captured" in out
    assert settle_expiring_authorizations.apply().get() == {
        "looked_at": 0,
        "captured": 0,
        "flagged": 0,
    }


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_capture_each_payment_once():
    shop()
    orders = [confirmed_order() for _ in range(4)]
    for order in orders:
        mark_shipped(order)
        age_authorization(order, days=6, hours=12)
    flagged = confirmed_order()
    age_authorization(flagged, days=6, hours=12)

    runs = concurrently(authorizations_settle_expiring)

    assert len(TestGateway.calls_for("capture")) == len(orders)  # one gateway call each
    for order in orders:
        payment = Payment.objects.get(order=order)
        assert (payment.status, payment.amount_captured) == ("captured", order.total)
        assert len(notes(order)) == 1
    assert len(notes(flagged)) == 1
    captured = [o.order for run in runs for o in run if o.action == "captured"]
    assert len(captured) >= len(orders)  # a loser may see the stored answer as captured
