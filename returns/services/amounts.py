"""What a return refunds, to the cent. Pure functions: no database.

Goods: the returned units' share of what was paid for goods.
- The order-level discount is allocated to lines in proportion to their
  totals, so returned units carry `discount × their gross / subtotal` of it.
- Tax-added market: that net share × (1 + tax_rate), unless the order was tax
  exempt. Tax-included market: the price already includes tax, so the net share
  is refunded as is; for a tax-exempt order, whose included tax was taken off
  its total, the net share / (1 + tax_rate).
- Rounded half-up once, at the end, like the order's own totals. Across several
  returns of one order the rounding is cumulative: each return refunds
  round(all units returned so far) − what earlier returns got, so returning an
  order piece by piece refunds exactly what returning it at once would.

Shipping: refunded in full, once per order, when the reason is our fault."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from orders.services.pricing import money

from ..models import ReturnReason

ZERO = Decimal("0.00")

SHIPPING_REFUNDED_FOR = frozenset(
    {
        ReturnReason.DEFECTIVE,
        ReturnReason.DAMAGED_IN_TRANSIT,
        ReturnReason.WRONG_ITEM,
        ReturnReason.NOT_AS_DESCRIBED,
    }
)


@dataclass(frozen=True)
class OrderMoney:
    """The order figures the refund depends on (frozen on the order at placing)."""

    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax_rate: Decimal
    prices_include_tax: bool
    tax_exempt: bool

    @classmethod
    def of(cls, order) -> OrderMoney:
        return cls(
            order.subtotal,
            order.discount,
            order.shipping,
            order.tax_rate,
            order.prices_include_tax,
            order.tax_exempt,
        )


Units = Iterable[tuple[Decimal, int]]  # (unit_price, quantity)


def goods_value(order: OrderMoney, units: Units) -> Decimal:
    """Unrounded amount paid for these units."""
    gross = sum((price * qty for price, qty in units), ZERO)
    if not gross or not order.subtotal:
        return ZERO
    net = gross - order.discount * gross / order.subtotal
    if order.prices_include_tax:
        return net / (1 + order.tax_rate) if order.tax_exempt else net
    return net if order.tax_exempt else net * (1 + order.tax_rate)


def goods_refund(
    order: OrderMoney, *, earlier_units: Units, earlier_refunded: Decimal, units: Units
) -> Decimal:
    """This return's goods refund, given what earlier returns were allotted."""
    everything = [*earlier_units, *units]
    return max(money(goods_value(order, everything)) - earlier_refunded, ZERO)


def shipping_refund(order: OrderMoney, *, reason: str, shipping_already_refunded: bool) -> Decimal:
    if reason not in SHIPPING_REFUNDED_FOR or shipping_already_refunded:
        return ZERO
    return order.shipping
