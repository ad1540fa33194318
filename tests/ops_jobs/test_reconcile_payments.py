"""reconcile_payments finds injected drift of each kind, --fix repairs the
payment_status mirror (with an audit row) and leaves money matters to staff, and
a second run is clean for what was repaired."""

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from jobs.payment_reconciliation import payment_drift
from orders.models import Order, OrderEvent
from payments.models import GatewayCall, Payment, Refund
from payments.services import payment_capture
from tests.ops_jobs.support import ago, command, confirmed_order, mark_shipped, shop


@pytest.fixture
def orders(db):
    shop()
    return [confirmed_order(), confirmed_order()]


def run(*args) -> tuple[int, dict]:
    code, out = command("reconcile_payments", "--json", *args)
    return code, json.loads(out)


def kinds_by_order(report: dict) -> dict[str, list[str]]:
    return {d["order"]: d["kinds"] for d in report["drift"]}


def capture(order: Order, amount: Decimal | None = None) -> Payment:
    payment = Payment.objects.get(order=order)
    return payment_capture(
        payment_id=payment.pk,
        amount=amount or order.total,
        actor=None,
        idempotency_key=f"test-{order.number}",
    )


def sync(order: Order) -> None:
    status = Payment.objects.get(order=order).status
    Order.objects.filter(pk=order.pk).update(payment_status=status)


def old(minutes: int = 120):
    return ago(minutes=minutes)


# --- injections: each leaves one order drifted in one way ---------------------------------


def captured_exceeds_total(order):
    capture(order)
    sync(order)
    Order.objects.filter(pk=order.pk).update(total=order.total - Decimal("1.00"))


def refunded_exceeds_captured(order):
    payment = capture(order, Decimal("10.00"))
    sync(order)
    Refund.objects.create(
        payment=payment,
        amount=Decimal("15.00"),
        currency=payment.currency,
        status="succeeded",
        idempotency_key="ghost-refund",
    )


def shipped_not_captured(order):
    mark_shipped(order, minutes=120)


def cod_not_collected(order):
    cod = confirmed_order(market="IN", method="cod")
    mark_shipped(cod, status="delivered", minutes=120)
    Order.objects.filter(pk=cod.pk).update(delivered_at=old())
    return cod


def cancelled_holds_capture(order):
    capture(order)
    sync(order)
    Order.objects.filter(pk=order.pk).update(status="cancelled", cancelled_at=old())


def cancelled_holds_authorization(order):
    Order.objects.filter(pk=order.pk).update(status="cancelled", cancelled_at=old())


def gateway_call_unanswered(order):
    payment = Payment.objects.get(order=order)
    GatewayCall.objects.create(
        payment=payment,
        gateway="test",
        operation="capture",
        idempotency_key=f"{payment.uid}:capture:lost",
        amount=Decimal("1.00"),
        started_at=old(),
    )


def refund_stuck_pending(order):
    payment = capture(order)
    sync(order)
    refund = Refund.objects.create(
        payment=payment, amount=Decimal("5.00"), currency=payment.currency, idempotency_key="slow"
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=old())


def payment_pending_on_confirmed(order):
    Payment.objects.filter(order=order).update(status="pending")
    Order.objects.filter(pk=order.pk).update(payment_status="pending")


def status_mismatch(order):
    Order.objects.filter(pk=order.pk).update(payment_status="pending")


@pytest.mark.parametrize(
    ("inject", "expected"),
    [
        (captured_exceeds_total, {"captured_exceeds_total"}),
        (refunded_exceeds_captured, {"refunded_exceeds_captured", "refunds_disagree_with_payment"}),
        (shipped_not_captured, {"shipped_not_captured"}),
        (cod_not_collected, {"cod_delivered_not_collected"}),
        (cancelled_holds_capture, {"cancelled_holds_captured_money"}),
        (cancelled_holds_authorization, {"cancelled_holds_authorization"}),
        (gateway_call_unanswered, {"gateway_call_unanswered"}),
        (refund_stuck_pending, {"refund_stuck_pending"}),
        (payment_pending_on_confirmed, {"payment_pending_on_confirmed_order"}),
        (status_mismatch, {"payment_status_mismatch"}),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_each_kind_of_drift_is_found(orders, inject, expected):
    assert run() == (0, {"drift": [], "fixed": False, "stale_minutes": 30})
    drifted = inject(orders[0]) or orders[0]

    code, report = run()

    assert code == 1
    [entry] = report["drift"]  # the other order is clean
    assert entry["order"] == drifted.number
    assert set(entry["kinds"]) == set(entry["findings"]) == expected
    assert entry["fixable"] == (["payment_status_mismatch"] if inject is status_mismatch else [])


def test_work_still_in_flight_is_not_drift_until_it_is_stale(orders):
    order = orders[0]
    mark_shipped(order)  # shipped just now: the ship worker is still capturing
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled", cancelled_at=timezone.now())
    assert run()[0] == 0
    code, report = run("--stale-minutes", "0")
    assert code == 1
    assert kinds_by_order(report) == {
        order.number: ["shipped_not_captured"],
        orders[1].number: ["cancelled_holds_authorization"],
    }


def test_fix_copies_the_status_with_an_audit_row_and_reports_the_rest(orders):
    mismatched, unfixable = orders
    status_mismatch(mismatched)
    cancelled_holds_authorization(unfixable)
    events = OrderEvent.objects.count()

    code, report = run("--fix")

    assert code == 1  # money matters are left for staff
    by_order = {d["order"]: d for d in report["drift"]}
    assert by_order[mismatched.number]["repairs"] == [
        "payment_status pending → authorized (copied from the payment)"
    ]
    assert by_order[mismatched.number]["unrepaired"] == []
    assert by_order[unfixable.number]["repairs"] == []
    assert by_order[unfixable.number]["unrepaired"] == ["cancelled_holds_authorization"]
    assert Order.objects.get(pk=mismatched.pk).payment_status == "authorized"
    assert OrderEvent.objects.count() == events + 1
    audit = OrderEvent.objects.latest("id")
    assert audit.order_id == mismatched.pk and audit.actor is None
    assert audit.reason.startswith("reconcile_payments --fix: payment_status pending")
    assert audit.from_status == audit.to_status == "confirmed"

    code, report = run()
    assert code == 1 and kinds_by_order(report) == {
        unfixable.number: ["cancelled_holds_authorization"]
    }


def test_fix_alone_makes_a_clean_second_run_and_human_report(orders):
    status_mismatch(orders[0])
    status_mismatch(orders[1])
    code, out = command("reconcile_payments")
    assert code == 1 and "payment_status_mismatch" in out and orders[0].number in out

    code, out = command("reconcile_payments", "--fix")
    assert code == 0 and out.count("fixed: payment_status pending → authorized") == 2

    code, out = command("reconcile_payments")
    assert code == 0 and "clean" in out
    assert run("--fix")[1]["drift"] == []  # nothing left, nothing written again


def test_healthy_lifecycle_is_clean(orders):
    """A fully shipped, captured, partly refunded order reports nothing."""
    order = orders[0]
    mark_shipped(order, minutes=120)
    capture(order)
    from payments.services import payment_refund

    payment_refund(
        payment_id=Payment.objects.get(order=order).pk,
        amount=Decimal("5.00"),
        reason="goodwill",
        actor=None,
        idempotency_key="goodwill",
    )
    sync(order)
    assert run() == (0, {"drift": [], "fixed": False, "stale_minutes": 30})


def test_progress_is_reported(orders):
    seen = []
    payment_drift(progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 2)]
