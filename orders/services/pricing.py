"""Totals exactly as API.md "Totals": each formula rounded half-up to cents,
once, at its end. Pure functions: no database, easy to test to the cent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal


def promo_discount(*, subtotal: Decimal, kind: str | None, value: Decimal | None) -> Decimal:
    if not kind or value is None:
        return ZERO
    if kind == "percent":
        amount = money(subtotal * value / Decimal(100))
    else:
        amount = money(value)
    return min(amount, subtotal)


def compute_totals(
    *,
    lines: list[tuple[Decimal, int]],
    tax_rate: Decimal,
    prices_include_tax: bool,
    shipping_price: Decimal,
    free_over: Decimal | None,
    promo_kind: str | None = None,
    promo_value: Decimal | None = None,
    tax_exempt: bool = False,
) -> Totals:
    """`lines` are (unit_price, quantity). A tax-exempt customer pays no tax:
    in a tax-added market none is added; in a tax-included market the included
    tax is taken off the total (reported as 0.00 tax)."""
    subtotal = money(sum((price * qty for price, qty in lines), ZERO))
    discount = promo_discount(subtotal=subtotal, kind=promo_kind, value=promo_value)
    net = subtotal - discount
    shipping = ZERO if free_over is not None and net >= free_over else money(shipping_price)
    if prices_include_tax:
        included = money(net * tax_rate / (1 + tax_rate))
        if tax_exempt:
            return Totals(subtotal, discount, shipping, ZERO, net - included + shipping)
        return Totals(subtotal, discount, shipping, included, net + shipping)
    tax = ZERO if tax_exempt else money(net * tax_rate)
    return Totals(subtotal, discount, shipping, tax, net + shipping + tax)
