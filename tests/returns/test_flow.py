"""A return's whole life through the API: opened by the customer, approved,
picked up, received (resellable units back on hand, damaged ones written
off, both in the ledger), refunded by the worker to the cent, with the order,
its payment, its history and the customer all told."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inventory.models import MovementKind, StockMovement
from orders.models import Order, OrderEvent
from payments.gateways.test_gateway import TestGateway
from payments.models import Payment, Refund
from tests.orders.support import assert_ledger_agrees, level_of

from .support import delivered_order, open_return, receive, return_url, walk_to_pickup

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(shop, customer):
    """3 T-shirts (19.99) + a hoodie (49.00), WELCOME10, express shipping (14.99):
    subtotal 108.97, discount 10.90, tax 7.85, total 120.91."""
    order = delivered_order(
        customer,
        "US",
        [("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)],
        promo="WELCOME10",
        shipping_method="express",
    )
    assert (order.subtotal, order.discount, order.tax, order.total) == (
        Decimal("108.97"),
        Decimal("10.90"),
        Decimal("7.85"),
        Decimal("120.91"),
    )
    return order


def movements(product, warehouse, reference_kinds=(MovementKind.RETURN, MovementKind.WRITE_OFF)):
    return list(
        StockMovement.objects.filter(product=product, warehouse=warehouse, kind__in=reference_kinds)
        .order_by("id")
        .values_list("kind", "on_hand_delta")
    )


def test_partial_return_from_initiated_to_refunded(
    shop, order, customer_api, staff_api, on_commit, notified
):
    on_hand_before = level_of(shop.tshirt, shop.us_wh).on_hand  # 50 − 3 shipped

    response = open_return(customer_api, order, [("TSHIRT-RED-M", 2)], reason="no_longer_needed")
    assert response.status_code == 201, response.json()
    body = response.json()
    number = body["number"]
    assert number.startswith("RMA-")
    assert body["status"] == "initiated"
    assert body["order"] == order.number
    assert body["reason"] == "no_longer_needed"
    assert body["resolution"] == "refund"
    assert body["refund_amount"] is None
    assert [(i["sku"], i["quantity"], i["quantity_received"]) for i in body["items"]] == [
        ("TSHIRT-RED-M", 2, 0)
    ]

    walk_to_pickup(staff_api, number)
    assert (
        staff_api.post(return_url(number, "in-transit"), {}, format="json").json()["status"]
        == "in_transit"
    )

    response = receive(
        staff_api, number, [("TSHIRT-RED-M", 1, "resellable"), ("TSHIRT-RED-M", 1, "damaged")]
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "received"
    [item] = body["items"]
    assert (item["quantity_resellable"], item["quantity_damaged"], item["condition"]) == (
        1,
        1,
        "mixed",
    )
    # One unit back on hand; the damaged one came back and was written off.
    assert level_of(shop.tshirt, shop.us_wh).on_hand == on_hand_before + 1
    assert movements(shop.tshirt, shop.us_wh) == [
        (MovementKind.RETURN, 1),
        (MovementKind.RETURN, 1),
        (MovementKind.WRITE_OFF, -1),
    ]
    assert_ledger_agrees()
    order.refresh_from_db()
    assert order.status == "partially_returned"
    assert [line.quantity_returned for line in order.lines.all()] == [2, 0]

    with on_commit():
        response = staff_api.post(return_url(number, "refund"), {}, format="json")
    assert response.status_code == 200, response.json()

    body = customer_api.get(return_url(number)).json()
    assert body["status"] == "refunded"
    # 2 × 19.99 less their share of the discount, plus 8% tax; no shipping
    # for "no longer needed".
    assert body["refund_amount"] == "38.86"
    assert [h["to_status"] for h in body["history"]] == [
        "initiated",
        "approved",
        "pickup_scheduled",
        "in_transit",
        "received",
        "processed",
        "refunded",
    ]
    payment = Payment.objects.get(order=order)
    assert payment.amount_refunded == Decimal("38.86")
    assert payment.status == "partially_refunded"
    refund = Refund.objects.get(payment=payment)
    assert (refund.idempotency_key, refund.source, refund.status) == (
        f"return:{number}",
        f"return:{number}",
        "succeeded",
    )
    assert refund.actor.is_staff  # who asked for it, kept on the Refund row
    order.refresh_from_db()
    assert order.payment_status == "partially_refunded"
    history = list(OrderEvent.objects.filter(order=order).values_list("from_status", "to_status"))
    assert ("delivered", "partially_returned") in history
    assert ("partially_returned", "partially_returned") in history  # the refund's audit row
    [refund_mail] = [context for n, event, context in notified if event == "refunded"]
    assert (refund_mail["order_number"], refund_mail["amount"], refund_mail["currency"]) == (
        order.number,
        "38.86",
        "USD",
    )
    assert refund_mail["reason"] == f"return {number}"
    assert [c[1] for c in notified if c[2].get("return_number") == number] == [
        "returned",
        "returned",
    ]  # approved, received
    assert len(TestGateway.calls_for("refund")) == 1


def test_returning_everything_refunds_the_whole_total_and_returns_the_order(
    shop, order, customer_api, staff_api, on_commit
):
    number = open_return(
        customer_api, order, [("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)], reason="wrong_item"
    ).json()["number"]
    walk_to_pickup(staff_api, number)
    received = receive(
        staff_api, number, [("TSHIRT-RED-M", 3, "resellable"), ("HOODIE-GREY-M", 1, "resellable")]
    )
    assert received.status_code == 200, received.json()
    order.refresh_from_db()
    assert order.status == "returned"

    with on_commit():
        staff_api.post(return_url(number, "refund"), {}, format="json")

    # Goods 105.92 (98.07 net + 7.85 tax) and, for a wrong item, the shipping.
    assert customer_api.get(return_url(number)).json()["refund_amount"] == "120.91"
    payment = Payment.objects.get(order=order)
    assert payment.amount_refunded == payment.amount_captured == Decimal("120.91")
    assert payment.status == "refunded"
    order.refresh_from_db()
    assert order.payment_status == "refunded"
    assert level_of(shop.tshirt, shop.us_wh).on_hand == 50
    assert level_of(shop.hoodie, shop.us_wh).on_hand == 20
    assert_ledger_agrees()


def test_refund_worker_is_idempotent(shop, order, customer_api, staff_api, on_commit):
    from returns.tasks import return_refund

    number = open_return(customer_api, order, [("HOODIE-GREY-M", 1)]).json()["number"]
    walk_to_pickup(staff_api, number)
    receive(staff_api, number, [("HOODIE-GREY-M", 1, "resellable")])
    with on_commit():
        staff_api.post(return_url(number, "refund"), {}, format="json")
    from returns.models import ReturnRequest

    rr = ReturnRequest.objects.get(number=number)
    assert return_refund.apply(args=[rr.pk]).get() == "refunded"  # redelivered message
    # Asking again for a refunded return is a state conflict, not a second refund.
    response = staff_api.post(return_url(number, "refund"), {}, format="json")
    assert response.status_code == 409
    assert Refund.objects.count() == 1
    assert len(TestGateway.calls_for("refund")) == 1
    assert Order.objects.get(pk=order.pk).status == "partially_returned"


def test_a_refused_refund_leaves_the_return_processed_and_can_be_asked_again(
    shop, order, customer_api, staff_api, on_commit, monkeypatch
):
    from payments.gateways.base import GatewayResult

    real = TestGateway.refund
    answers = iter([GatewayResult(ok=False, status="failed", message="Card account closed.")])

    def refuse_once(self, **kwargs):
        return next(answers, None) or real(self, **kwargs)

    monkeypatch.setattr(TestGateway, "refund", refuse_once)
    number = open_return(customer_api, order, [("HOODIE-GREY-M", 1)]).json()["number"]
    walk_to_pickup(staff_api, number)
    receive(staff_api, number, [("HOODIE-GREY-M", 1, "resellable")])

    with on_commit():
        staff_api.post(return_url(number, "refund"), {}, format="json")
    body = customer_api.get(return_url(number)).json()
    assert (body["status"], body["refund_amount"]) == ("processed", None)
    assert "Card account closed." in body["history"][-1]["reason"]

    with on_commit():
        staff_api.post(return_url(number, "refund"), {}, format="json")
    body = customer_api.get(return_url(number)).json()
    # 47.63 for the hoodie (see the order fixture) + 14.99 shipping, defective.
    assert (body["status"], body["refund_amount"]) == ("refunded", "62.62")
    assert list(Refund.objects.order_by("id").values_list("idempotency_key", "status")) == [
        (f"return:{number}", "failed"),
        (f"return:{number}:1", "succeeded"),
    ]
