"""Refund amounts to the cent: the returned lines' paid price with their
share of the discount and tax, shipping by the reason's policy, once per order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import Payment
from returns.models import ReturnRequest
from returns.services.amounts import OrderMoney, goods_refund, goods_value, shipping_refund

from .support import delivered_order, open_return, receive, return_url, walk_to_pickup

D = Decimal


def refund_return(customer_api, staff_api, on_commit, order, items, reason):
    number = open_return(
        customer_api, order, [(sku, qty) for sku, qty in items], reason=reason
    ).json()["number"]
    walk_to_pickup(staff_api, number)
    response = receive(staff_api, number, [(sku, qty, "resellable") for sku, qty in items])
    assert response.status_code == 200, response.json()
    with on_commit():
        staff_api.post(return_url(number, "refund"), {}, format="json")
    body = customer_api.get(return_url(number)).json()
    assert body["status"] == "refunded", body
    return body["refund_amount"]


@pytest.mark.django_db
class TestThroughTheApi:
    def test_tax_added_market_with_promo(self, shop, customer, customer_api, staff_api, on_commit):
        # 3 × 19.99 + 49.00 = 108.97; WELCOME10 10.90; 8% added; express 14.99.
        order = delivered_order(
            customer,
            "US",
            [("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)],
            promo="WELCOME10",
            shipping_method="express",
        )
        # 49.00 − 10.90 × 49.00/108.97 = 44.0986…, × 1.08 = 47.6265… → 47.63; no shipping.
        amount = refund_return(
            customer_api, staff_api, on_commit, order, [("HOODIE-GREY-M", 1)], "no_longer_needed"
        )
        assert amount == "47.63"
        # One T-shirt, defective: 19.99 share → 19.43, plus the 14.99 shipping.
        amount = refund_return(
            customer_api, staff_api, on_commit, order, [("TSHIRT-RED-M", 1)], "defective"
        )
        assert amount == "34.42"

    def test_tax_included_market_with_promo_and_shipping_once(
        self, shop, customer, customer_api, staff_api, on_commit
    ):
        # 2 × 3499.00 = 6998.00; WELCOME10 699.80; 18% included; express 149.00.
        order = delivered_order(
            customer,
            "IN",
            [("HOODIE-GREY-M", 2)],
            promo="WELCOME10",
            shipping_method="express",
        )
        assert order.total == D("6447.20")
        # 3499.00 − 349.90 (the price already holds the tax) + 149.00 shipping.
        first = refund_return(
            customer_api, staff_api, on_commit, order, [("HOODIE-GREY-M", 1)], "defective"
        )
        assert first == "3298.10"
        # Shipping is refunded once per order, whatever the second reason.
        second = refund_return(
            customer_api, staff_api, on_commit, order, [("HOODIE-GREY-M", 1)], "damaged_in_transit"
        )
        assert second == "3149.10"
        payment = Payment.objects.get(order=order)
        assert payment.amount_refunded == order.total == D(first) + D(second)
        assert payment.status == "refunded"
        [a, b] = ReturnRequest.objects.order_by("pk")
        assert (a.refund_shipping, b.refund_shipping) == (D("149.00"), D("0.00"))

    @pytest.mark.parametrize(
        ("reason", "shipping"),
        [
            ("defective", "5.99"),
            ("damaged_in_transit", "5.99"),
            ("wrong_item", "5.99"),
            ("not_as_described", "5.99"),
            ("no_longer_needed", "0.00"),
            ("other", "0.00"),
        ],
    )
    def test_shipping_policy_per_reason(
        self, shop, customer, customer_api, staff_api, on_commit, reason, shipping
    ):
        # 1 × 19.99, standard shipping 5.99 (under the 50.00 free threshold), 8% tax.
        order = delivered_order(customer, "US", [("TSHIRT-RED-M", 1)])
        assert order.total == D("27.58")  # 19.99 + 5.99 + 1.60
        amount = refund_return(
            customer_api, staff_api, on_commit, order, [("TSHIRT-RED-M", 1)], reason
        )
        assert D(amount) == D("21.59") + D(shipping)


def figures(**overrides) -> OrderMoney:
    base = {
        "subtotal": D("30.00"),
        "discount": D("1.00"),
        "shipping": D("5.00"),
        "tax_rate": D("0.0800"),
        "prices_include_tax": False,
        "tax_exempt": False,
    }
    return OrderMoney(**{**base, **overrides})


class TestArithmetic:
    def test_tax_added(self):
        # (10.00 − 1.00/3) × 1.08 = 10.44
        assert goods_refund(
            figures(), earlier_units=[], earlier_refunded=D(0), units=[(D(10), 1)]
        ) == D("10.44")

    def test_tax_added_but_exempt(self):
        order = figures(tax_exempt=True)
        assert goods_refund(
            order, earlier_units=[], earlier_refunded=D(0), units=[(D(10), 1)]
        ) == D("9.67")

    def test_tax_included_exempt_takes_the_included_tax_off(self):
        order = figures(prices_include_tax=True, tax_exempt=True, tax_rate=D("0.1800"))
        # 9.666… / 1.18 = 8.19
        assert goods_refund(
            order, earlier_units=[], earlier_refunded=D(0), units=[(D(10), 1)]
        ) == D("8.19")

    def test_rounding_is_cumulative_across_returns(self):
        """Each unit alone is 9.67 (tax included), but the three paid 29.00: returned
        one by one they refund 9.67, 9.66, 9.67 — never a cent more than was paid."""
        order = figures(prices_include_tax=True)
        unit = (D(10), 1)
        got = []
        for n in range(3):
            got.append(
                goods_refund(
                    order, earlier_units=[unit] * n, earlier_refunded=sum(got, D(0)), units=[unit]
                )
            )
        assert got == [D("9.67"), D("9.66"), D("9.67")]
        assert sum(got) == D("29.00") == goods_value(order, [(D(10), 3)])

    def test_shipping_only_for_our_faults_and_once(self):
        order = figures()
        assert shipping_refund(order, reason="defective", shipping_already_refunded=False) == D(
            "5.00"
        )
        assert shipping_refund(order, reason="defective", shipping_already_refunded=True) == D(
            "0.00"
        )
        assert shipping_refund(order, reason="other", shipping_already_refunded=False) == D("0.00")
