"""The ship worker captures the payment for what shipped: partial captures to
the cent adding up to the order total, one full capture on single-capture
gateways, and cash on delivery collected on delivery."""

from __future__ import annotations

import json
import random
from decimal import ROUND_HALF_UP, Decimal

import pytest

from core.signatures import sign
from fulfillment.services import shipment_process_shipped
from fulfillment.services.capture import cumulative_due
from fulfillment.tasks import shipment_shipped
from inventory.models import StockMovement
from operations.models import ProcessingError
from payments.gateways.test_gateway import TestGateway
from payments.models import GatewayCall, Payment
from tests.fulfillment.support import assert_stock_consistent, shipment, shipment_url
from tests.orders.support import product

CENT = Decimal("0.01")


def captured_amounts() -> list[Decimal]:
    return [c.kwargs["amount"] for c in TestGateway.calls_for("capture")]


@pytest.fixture
def socks(shop):
    return product("SOCKS-BLK", {"US": "7.77", "IN": "499.00"}, {shop.us_wh: 30, shop.in_wh: 30})


@pytest.fixture
def three_lines(socks, confirmed_order):
    """19.99 + 49.00 + 3 × 7.77 = 92.30, WELCOME10 (−9.23), 8% tax (6.65),
    express shipping 14.99 (never free): total 104.71."""
    order = confirmed_order(
        [("TSHIRT-RED-M", 1), ("HOODIE-GREY-M", 1), ("SOCKS-BLK", 3)],
        shipping_method="express",
        promo_code="WELCOME10",
    )
    assert (order.subtotal, order.discount, order.tax, order.shipping, order.total) == (
        Decimal("92.30"),
        Decimal("9.23"),
        Decimal("6.65"),
        Decimal("14.99"),
        Decimal("104.71"),
    )
    return order


class TestPartialCaptures:
    def test_two_shipments_capture_exactly_the_order_total(self, three_lines, ful):
        order = three_lines
        first = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1), ("SOCKS-BLK", 2)])
        # Goods share of 19.99 + 2 × 7.77 = 35.53 of 92.30, plus all the shipping:
        # 14.99 + (104.71 − 14.99) × 35.53 / 92.30 = 14.99 + 34.54
        expected_first = Decimal("14.99") + (
            Decimal("89.72") * Decimal("35.53") / Decimal("92.30")
        ).quantize(CENT, rounding=ROUND_HALF_UP)
        assert expected_first == Decimal("49.53")
        assert captured_amounts() == [expected_first]
        payment = Payment.objects.get(order=order)
        assert payment.amount_captured == expected_first
        order.refresh_from_db()
        assert order.payment_status == "captured"

        second = ful.create_and_ship(order.number, [("HOODIE-GREY-M", 1), ("SOCKS-BLK", 1)])
        assert captured_amounts() == [Decimal("49.53"), Decimal("55.18")]
        assert sum(captured_amounts()) == order.total
        payment.refresh_from_db()
        assert payment.amount_captured == order.total == payment.amount_authorized
        assert payment.status == "captured"
        assert shipment(first["number"]).capture_amount == Decimal("49.53")
        assert shipment(second["number"]).capture_amount == Decimal("55.18")
        assert all(shipment(s["number"]).captured_at for s in (first, second))

    def test_refunding_the_first_capture_in_full_leaves_the_rest_shippable(self, three_lines, ful):
        order = three_lines
        ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1), ("SOCKS-BLK", 2)])
        refund = ful.post(
            f"/api/v1/orders/{order.number}/refunds/", {"amount": "49.53", "reason": "damaged"}
        )
        assert refund.status_code == 201, refund.content
        payment = Payment.objects.get(order=order)
        # All captured money is back, but 55.18 is still authorized for the rest,
        # which ships and is captured.
        assert (payment.amount_refunded, payment.status) == (Decimal("49.53"), "refunded")

        ful.create_and_ship(order.number, [("HOODIE-GREY-M", 1), ("SOCKS-BLK", 1)])
        assert captured_amounts() == [Decimal("49.53"), Decimal("55.18")]
        payment.refresh_from_db()
        assert (payment.amount_captured, payment.status) == (order.total, "partially_refunded")

    def test_order_of_processing_does_not_matter(self, three_lines, ful):
        order = three_lines
        one = ful.create(order.number, [("TSHIRT-RED-M", 1), ("SOCKS-BLK", 2)])
        two = ful.create(order.number, [("HOODIE-GREY-M", 1), ("SOCKS-BLK", 1)])
        ful.ship(two["number"])  # the later shipment goes first: it takes the shipping fee
        ful.ship(one["number"])  # and the last one processed takes the remainder
        assert captured_amounts() == [Decimal("70.17"), Decimal("34.54")]
        assert sum(captured_amounts()) == order.total

    def test_single_capture_gateway_captures_the_total_with_the_first_shipment(
        self, three_lines, ful, monkeypatch
    ):
        monkeypatch.setattr(TestGateway, "supports_multiple_captures", False)
        order = three_lines
        first = ful.create_and_ship(order.number, [("SOCKS-BLK", 1)])
        assert captured_amounts() == [order.total]
        assert TestGateway.calls_for("capture")[0].kwargs["final"] is True
        second = ful.create_and_ship(
            order.number, [("TSHIRT-RED-M", 1), ("HOODIE-GREY-M", 1), ("SOCKS-BLK", 2)]
        )
        assert captured_amounts() == [order.total]  # no second capture attempted
        assert shipment(first["number"]).capture_amount == order.total
        assert shipment(second["number"]).capture_amount == Decimal("0.00")
        assert shipment(second["number"]).capture_error == ""
        order.refresh_from_db()
        assert order.status == "shipped"
        assert Payment.objects.get(order=order).amount_captured == order.total

    @pytest.mark.parametrize("seed", range(25))
    def test_shares_always_add_up_to_the_total(self, seed):
        rng = random.Random(seed)
        values = [
            Decimal(rng.randint(1, 50000)) / 100 * rng.randint(1, 5)
            for _ in range(rng.randint(1, 8))
        ]
        subtotal = sum(values)
        shipping = Decimal(rng.choice([0, 499, 1499])) / 100
        total = (subtotal * Decimal(rng.choice(["0.9", "1.08", "1", "0.8333"]))).quantize(
            CENT
        ) + shipping
        order = list(range(len(values)))
        rng.shuffle(order)
        shipped, captured, amounts = Decimal(0), Decimal(0), []
        for index in order:
            shipped += values[index]
            due = cumulative_due(
                total=total, shipping=shipping, subtotal=subtotal, value=shipped, started=True
            )
            amounts.append(due - captured)
            captured = due
        assert sum(amounts) == total
        assert all(a >= 0 and a == a.quantize(CENT) for a in amounts)
        assert amounts[0] >= shipping


class TestCashOnDelivery:
    @pytest.fixture
    def cod_order(self, confirmed_order):
        return confirmed_order(
            [("TSHIRT-RED-M", 2)], market="IN", payment_method="cod", payment_token=""
        )

    def test_nothing_is_captured_at_shipping_the_total_on_delivery(self, cod_order, ful):
        order = cod_order
        one = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
        two = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
        payment = Payment.objects.get(order=order)
        assert (payment.status, payment.amount_captured) == ("pending", Decimal("0.00"))
        assert not GatewayCall.objects.filter(operation="capture").exists()

        ful.deliver(one["number"])
        order.refresh_from_db()
        assert order.status == "shipped"
        assert Payment.objects.get(order=order).amount_captured == Decimal("0.00")

        ful.deliver(two["number"])
        order.refresh_from_db()
        payment.refresh_from_db()
        assert order.status == "delivered"
        assert payment.status == "captured"
        assert payment.amount_captured == order.total == Decimal("2998.00")
        assert order.payment_status == "captured"
        assert GatewayCall.objects.filter(operation="capture").count() == 1


class TestIdempotentWorker:
    def test_a_redelivered_ship_task_changes_nothing_twice(self, three_lines, ful, on_commit):
        order = three_lines
        shipped = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
        moves = StockMovement.objects.count()
        calls = GatewayCall.objects.count()
        sid = shipment(shipped["number"]).pk

        with on_commit():
            shipment_shipped.delay(sid)
        shipment_process_shipped(shipment_id=sid)

        assert StockMovement.objects.count() == moves
        assert GatewayCall.objects.count() == calls
        assert len(captured_amounts()) == 1
        line = order.lines.get(sku="TSHIRT-RED-M")
        assert line.quantity_shipped == 1
        assert_stock_consistent()


class TestPaymentGoneAtTheGateway:
    def test_goods_do_not_ship_against_a_voided_payment(
        self, confirmed_order, ful, api, settings, on_commit
    ):
        settings.WEBHOOK_SECRETS = {"gateway": {"test": "s3"}}
        order = confirmed_order([("TSHIRT-RED-M", 1)])
        created = ful.create(order.number, [("TSHIRT-RED-M", 1)])
        body = json.dumps(
            {"id": "evt_void", "type": "payment.voided", "reference": order.payment.reference}
        ).encode()
        with on_commit():
            response = api.post(
                "/api/v1/webhooks/payments/test/",
                data=body,
                content_type="application/json",
                HTTP_X_ORDERLY_SIGNATURE=sign(body, "s3"),
            )
        assert response.status_code == 200, response.content
        order.refresh_from_db()
        assert (order.status, order.payment_status) == ("processing", "voided")
        error = ProcessingError.objects.get(order=order, step="order_sync_payment")
        assert "voided" in error.message

        ship = {"carrier": "test", "tracking_number": "T-VOID"}
        ful.refused(shipment_url(created["number"], "ship"), ship, 409, "TRANSITION_NOT_ALLOWED")
        assert shipment(created["number"]).status == "pending"
        assert not GatewayCall.objects.filter(operation="capture").exists()
        assert_stock_consistent()
