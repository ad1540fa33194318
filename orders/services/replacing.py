"""Replacement orders for exchanges: an ordinary order at no charge, so
fulfilment ships it like any other, with stock reserved the usual way."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from inventory.models import Product
from inventory.services import ReserveRequest, stock_commit, stock_reserve

from ..models import ZERO, Order, OrderLine, OrderSource, OrderStatus
from .events import order_event_record
from .placing import assign_number

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
    order = Order.objects.create(
        customer=original.customer,
        market=original.market,
        currency=original.currency,
        subtotal=ZERO,
        discount=ZERO,
        shipping=ZERO,
        tax=ZERO,
        total=ZERO,
        tax_rate=original.tax_rate,
        prices_include_tax=original.prices_include_tax,
        tax_exempt=original.tax_exempt,
        shipping_method=original.shipping_method,
        shipping_address=original.shipping_address,
        payment_method=PAYMENT_METHOD,
        payment_status="captured",
        source=OrderSource.ADMIN,
    )
    assign_number(order)
    lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product=item.product,
                sku=item.product.sku,
                name=item.product.name,
                quantity=item.quantity,
                unit_price=item.unit_price,
                line_total=ZERO,
            )
            for item in items
        ]
    )
    actor = actor if getattr(actor, "pk", None) else None
    stock_reserve(
        market_code=original.market.code,
        requests=[ReserveRequest(line.pk, line.product_id, line.quantity) for line in lines],
        expires_at=None,
        actor=actor,
        reference=order.number,
    )
    order_event_record(
        order=order, from_status="", to_status=OrderStatus.PENDING, actor=actor, reason=reason
    )
    order.confirm(at=timezone.now())
    order.save()
    stock_commit(order_line_ids=[line.pk for line in lines])
    order_event_record(
        order=order,
        from_status=OrderStatus.PENDING,
        to_status=order.status,
        actor=actor,
        reason="replacement: nothing to pay",
    )
    return order
