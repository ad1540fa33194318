"""How much of the payment each shipment captures.

Partial captures (gateways with `supports_multiple_captures`): each shipment
captures its goods' share of the order total, fixed once, when its worker
runs. Shares are computed *cumulatively*: the amount due once goods worth `v`
of the order's `subtotal` have shipped is

    due(v) = shipping + round_half_up((total - shipping) × v / subtotal)   (v < subtotal)
    due(subtotal) = total

and a shipment captures `due(everything planned so far, itself included)`
minus what earlier shipments were given. The amounts therefore add up to the
order total exactly, to the cent, in whatever order the shipments are
processed: the last one takes the remainder, and the shipping fee goes with
the first. Discount and tax are spread in proportion to the goods' value,
as they were computed on the order.

Single-capture gateways (Stripe without multicapture, Razorpay): the first
shipment to be processed captures the whole order total, the later ones
nothing, because the gateway would refuse a second capture (and Razorpay any
partial one).

Cash on delivery: nothing at shipping; the full total is recorded as
collected when the order is delivered (`orders.services.fulfillment.order_collect_cod`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from payments.gateways.registry import get_gateway
from payments.models import Payment

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def cumulative_due(
    *, total: Decimal, shipping: Decimal, subtotal: Decimal, value: Decimal, started: bool
) -> Decimal:
    """What the payment should hold once goods worth `value` have shipped."""
    if not started:
        return ZERO
    if value >= subtotal:
        return total
    goods = total - shipping
    return shipping + (goods * value / subtotal).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CapturePlan:
    amount: Decimal
    note: str = ""  # why nothing is captured, when that is unexpected


def plan_capture(
    *,
    payment: Payment,
    total: Decimal,
    shipping: Decimal,
    subtotal: Decimal,
    value: Decimal,
    prior_value: Decimal,
    prior_planned: Decimal,
    prior_count: int,
    captured_by_shipments: Decimal,
) -> CapturePlan:
    """This shipment's amount. `value` is its goods' worth; `prior_*` describe
    the order's other shipments that already have a plan."""
    if payment.is_cash:
        return CapturePlan(ZERO)
    if not payment.open_for_capture:
        return CapturePlan(ZERO, f"payment is {payment.status}; nothing captured")
    if not get_gateway(payment.gateway).supports_multiple_captures:
        amount = total if prior_count == 0 else ZERO
    else:
        due = cumulative_due(
            total=total,
            shipping=shipping,
            subtotal=subtotal,
            value=prior_value + value,
            started=True,
        )
        amount = due - prior_planned
    # Money captured outside the shipments (a gateway that captured at
    # authorization, a capture from its dashboard) is not captured twice.
    outside = max(payment.amount_captured - captured_by_shipments, ZERO)
    headroom = payment.amount_authorized - outside - prior_planned
    return CapturePlan(max(min(amount, headroom), ZERO))
