"""orders.services.pricing.compute_totals: API.md "Totals" to the cent.

Pure function, no database. Every expected figure below was worked out by hand
from the API.md formulas (half-up, once, at the end of each formula)."""

from decimal import Decimal

import pytest

from orders.services.pricing import compute_totals, money

D = Decimal

US = {
    "tax_rate": D("0.0800"),
    "prices_include_tax": False,
    "shipping_price": D("5.99"),
    "free_over": D("50.00"),
}
IN = {
    "tax_rate": D("0.1800"),
    "prices_include_tax": True,
    "shipping_price": D("49.00"),
    "free_over": D("999.00"),
}
WELCOME10 = {"promo_kind": "percent", "promo_value": D("10")}


def totals(market: dict, lines, promo: dict | None = None, **kwargs) -> tuple[str, ...]:
    result = compute_totals(
        lines=[(D(price), qty) for price, qty in lines], **market, **(promo or {}), **kwargs
    )
    figures = (result.subtotal, result.discount, result.shipping, result.tax, result.total)
    for value in figures:
        assert isinstance(value, Decimal)
        assert value.as_tuple().exponent == -2, f"{value!r} is not to the cent"
    return tuple(str(v) for v in figures)


@pytest.mark.parametrize(
    ("lines", "promo", "expected"),
    [
        # subtotal, discount, shipping, tax, total
        pytest.param([("19.99", 1)], None, ("19.99", "0.00", "5.99", "1.60", "27.58"), id="one"),
        pytest.param(
            [("19.99", 2)], WELCOME10, ("39.98", "4.00", "5.99", "2.88", "44.85"), id="promo"
        ),
        pytest.param(
            [("49.99", 1)], None, ("49.99", "0.00", "5.99", "4.00", "59.98"), id="just-below-free"
        ),
        pytest.param(
            [("25.00", 2)], None, ("50.00", "0.00", "0.00", "4.00", "54.00"), id="at-free"
        ),
        pytest.param(
            [("55.00", 1)],
            WELCOME10,
            ("55.00", "5.50", "5.99", "3.96", "59.45"),
            id="subtotal-over-but-net-below-free",
        ),
        pytest.param(
            [("55.56", 1)],
            WELCOME10,
            ("55.56", "5.56", "0.00", "4.00", "54.00"),
            id="net-exactly-at-free",
        ),
        pytest.param(
            [("19.99", 1), ("49.00", 2)],
            WELCOME10,
            ("117.99", "11.80", "0.00", "8.50", "114.69"),
            id="two-lines",
        ),
    ],
)
def test_tax_added_market(lines, promo, expected):
    assert totals(US, lines, promo) == expected


@pytest.mark.parametrize(
    ("lines", "promo", "expected"),
    [
        pytest.param(
            [("1499.00", 1)], None, ("1499.00", "0.00", "0.00", "228.66", "1499.00"), id="one"
        ),
        pytest.param(
            [("998.00", 1)],
            None,
            ("998.00", "0.00", "49.00", "152.24", "1047.00"),
            id="just-below-free",
        ),
        pytest.param(
            [("999.00", 1)], None, ("999.00", "0.00", "0.00", "152.39", "999.00"), id="at-free"
        ),
        pytest.param(
            [("1100.00", 1)],
            WELCOME10,
            ("1100.00", "110.00", "49.00", "151.02", "1039.00"),
            id="subtotal-over-but-net-below-free",
        ),
        pytest.param(
            [("1110.00", 1)],
            WELCOME10,
            ("1110.00", "111.00", "0.00", "152.39", "999.00"),
            id="net-exactly-at-free",
        ),
        pytest.param(
            [("1499.00", 2)],
            WELCOME10,
            ("2998.00", "299.80", "0.00", "411.59", "2698.20"),
            id="promo",
        ),
    ],
)
def test_tax_included_market(lines, promo, expected):
    assert totals(IN, lines, promo) == expected


class TestHalfUpRounding:
    NO_SHIPPING = {"shipping_price": D("0.00"), "free_over": None}

    def test_money_rounds_half_up(self):
        assert str(money("0.005")) == "0.01"
        assert str(money("2.675")) == "2.68"  # a float would say 2.67
        assert str(money("0.125")) == "0.13"  # banker's rounding would say 0.12
        assert str(money("-0.005")) == "-0.01"

    def test_percent_discount_rounds_half_up(self):
        market = {"tax_rate": D("0"), "prices_include_tax": False, **self.NO_SHIPPING}
        # 10% of 12.25 = 1.225 → 1.23 (half-even would give 1.22)
        assert totals(market, [("12.25", 1)], WELCOME10) == (
            "12.25",
            "1.23",
            "0.00",
            "0.00",
            "11.02",
        )
        # 10% of 0.05 = 0.005 → 0.01
        assert totals(market, [("0.05", 1)], WELCOME10)[1] == "0.01"

    def test_added_tax_rounds_half_up(self):
        market = {"tax_rate": D("0.0500"), "prices_include_tax": False, **self.NO_SHIPPING}
        # 5% of 12.50 = 0.625 → 0.63 (half-even would give 0.62)
        assert totals(market, [("12.50", 1)]) == ("12.50", "0.00", "0.00", "0.63", "13.13")
        # 5% of 0.10 = 0.005 → 0.01
        assert totals(market, [("0.10", 1)])[3] == "0.01"

    @pytest.mark.parametrize(
        ("net", "tax"),
        [
            ("0.42", "0.05"),  # 0.42 × 0.12 / 1.12 = 0.045 → 0.05; rounding 0.0504 first gives 0.04
            ("0.98", "0.11"),  # 0.105 → 0.11 (half-even: 0.10)
            ("4200.42", "450.05"),  # 450.045 → 450.05 (half-even: 450.04)
        ],
    )
    def test_included_tax_rounds_half_up_once_at_the_end(self, net, tax):
        market = {"tax_rate": D("0.1200"), "prices_include_tax": True, **self.NO_SHIPPING}
        assert totals(market, [(net, 1)]) == (net, "0.00", "0.00", tax, net)

    def test_tax_is_on_the_discounted_amount(self):
        # US: 8% of (39.98 − 4.00) = 2.8784 → 2.88, not 8% of 39.98 = 3.20
        assert totals(US, [("19.99", 2)], WELCOME10)[3] == "2.88"

    def test_many_lines_are_summed_exactly(self):
        subtotal, *_ = totals(US, [("0.10", 3)] * 10 + [("0.01", 7)])
        assert subtotal == "3.07"


class TestEdges:
    def test_shipping_is_not_taxed(self):
        # 19.99 × 8% = 1.60 whether or not 5.99 shipping is charged
        assert totals(US, [("19.99", 1)])[2:4] == ("5.99", "1.60")

    def test_method_without_free_over_always_charges(self):
        express = {**US, "shipping_price": D("14.99"), "free_over": None}
        assert totals(express, [("500.00", 1)]) == ("500.00", "0.00", "14.99", "40.00", "554.99")

    def test_fixed_discount_never_exceeds_subtotal(self):
        fixed = {"promo_kind": "fixed", "promo_value": D("50.00")}
        assert totals(US, [("30.00", 1)], fixed) == ("30.00", "30.00", "5.99", "0.00", "5.99")

    def test_fixed_discount_below_subtotal(self):
        fixed = {"promo_kind": "fixed", "promo_value": D("5.00")}
        assert totals(US, [("30.00", 1)], fixed) == ("30.00", "5.00", "5.99", "2.00", "32.99")

    def test_full_percent_discount(self):
        full = {"promo_kind": "percent", "promo_value": D("100")}
        assert totals(IN, [("1499.00", 1)], full) == (
            "1499.00",
            "1499.00",
            "49.00",
            "0.00",
            "49.00",
        )

    def test_no_promo_value_means_no_discount(self):
        assert (
            totals(US, [("19.99", 1)], {"promo_kind": "percent", "promo_value": None})[1] == "0.00"
        )


class TestTaxExempt:
    def test_tax_added_market_adds_no_tax(self):
        assert totals(US, [("19.99", 1)], tax_exempt=True) == (
            "19.99",
            "0.00",
            "5.99",
            "0.00",
            "25.98",
        )

    def test_tax_added_market_with_promo(self):
        assert totals(US, [("55.56", 1)], WELCOME10, tax_exempt=True) == (
            "55.56",
            "5.56",
            "0.00",
            "0.00",
            "50.00",
        )

    def test_tax_included_market_takes_the_included_tax_off(self):
        # 1499.00 includes 228.66 of tax: the exempt customer pays 1270.34
        assert totals(IN, [("1499.00", 1)], tax_exempt=True) == (
            "1499.00",
            "0.00",
            "0.00",
            "0.00",
            "1270.34",
        )

    def test_tax_included_market_keeps_shipping(self):
        # 998.00 − 152.24 included tax + 49.00 shipping
        assert totals(IN, [("998.00", 1)], tax_exempt=True)[2:] == ("49.00", "0.00", "894.76")
