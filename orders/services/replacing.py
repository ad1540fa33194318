"""Replacement orders for exchanges: an ordinary order at no charge, so
fulfilment ships it like any other, with stock reserved the usual way."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory.models import Product
from inventory.services import stock_commit

from ..models import ZERO, Order, OrderSource, OrderStatus
from .events import order_event_record
from .pricing import Totals
from .writing import NewLine, order_write

PAYMENT_METHOD = "replacement"


@dataclass(frozen=True)
class ReplacementItem:
    product: Product
    quantity: int
    unit_price: Decimal  # what was paid, kept for reference; the line is free


@transaction.atomic
def order_place_replacement(
    *, original: Order, items: list[ReplacementItem], actor, reason: str
) -> Order:
    """Confirmed at once: staff decided the exchange, there is nothing to
    authorize or score. No Payment row; payment_status "captured" (paid 0.00).
    Raises InsufficientStock (inventory) when the units are not there."""
    actor = actor if getattr(actor, "pk", None) else None
    order = order_write(
        customer=original.customer,
        market=original.market,
        # Each line keeps what was paid for reference; the replacement is free.
        lines=[
            NewLine(
                product=item.product,
                quantity=item.quantity,
                unit_price=item.unit_price,
                line_total=ZERO,
            )
            for item in items
        ],
        totals=Totals(subtotal=ZERO, discount=ZERO, shipping=ZERO, tax=ZERO, total=ZERO),
        tax_exempt=original.tax_exempt,
        fields={
            "currency": original.currency,
            "tax_rate": original.tax_rate,
            "prices_include_tax": original.prices_include_tax,
            "shipping_method": original.shipping_method,
            "shipping_address": original.shipping_address,
            "payment_method": PAYMENT_METHOD,
            "payment_status": "captured",
            "source": OrderSource.ADMIN,
        },
        actor=actor,
        reservation_expires_at=None,
        payment=None,
        reason=reason,
    )
    order.confirm(at=timezone.now())
    order.save()
    stock_commit(order_line_ids=[line.pk for line in order.lines.all()])
    order_event_record(
        order=order,
        from_status=OrderStatus.PENDING,
        to_status=order.status,
        actor=actor,
        reason="replacement: nothing to pay",
    )
    return order
