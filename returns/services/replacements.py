"""Exchanges: on receipt, a replacement order at no charge.

The replacement is an ordinary order (same customer, market, address and
shipping method; source "admin") so fulfilment ships it like any other, with
its stock reserved through `inventory.services.stock_reserve`. Lines keep the
unit price paid for reference; every total is 0.00. Nothing is charged, so it
has no Payment row: payment_method "replacement", payment_status "captured"
(fully paid at 0.00). It is confirmed at once: staff decided the exchange, so
there is no payment to authorize and nothing to risk-score."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.errors import ValidationFailed, detail
from inventory.errors import InsufficientStock
from orders.models import Order
from orders.services.replacing import ReplacementItem, order_place_replacement

from .. import errors as codes
from ..models import ReturnRequest
from .common import notify, return_event_record


def _write_replacement_order(rr: ReturnRequest, *, actor) -> Order:
    """Inside the caller's transaction (and savepoint). Raises InsufficientStock."""
    original = rr.order
    # One line per product, even when two returned SKUs are replaced by the same one.
    wanted: dict[int, ReplacementItem] = {}
    for line in rr.lines.select_related("order_line__product", "replacement_product"):
        if not line.quantity_received:
            continue
        product = line.replacement_product or line.order_line.product
        earlier = wanted.get(product.pk)
        wanted[product.pk] = ReplacementItem(
            product=product,
            quantity=(earlier.quantity if earlier else 0) + line.quantity_received,
            unit_price=earlier.unit_price if earlier else line.order_line.unit_price,
        )
    return order_place_replacement(
        original=original,
        items=list(wanted.values()),
        actor=actor,
        reason=f"replacement for return {rr.number} of order {original.number}",
    )


def replacement_attempt(rr: ReturnRequest, *, actor) -> bool:
    """With the order and return locked and the return `received`: create the
    replacement order and settle the return (`processed`), or record
    REPLACEMENT_OUT_OF_STOCK and leave it `received` for staff to retry or
    refund instead. Returns whether the replacement was created."""
    try:
        with transaction.atomic():  # a savepoint: a stock shortfall undoes only this
            replacement = _write_replacement_order(rr, actor=actor)
    except InsufficientStock:
        rr.replacement_error = codes.REPLACEMENT_OUT_OF_STOCK
        rr.save(update_fields=["replacement_error", "updated_at"])
        return_event_record(
            rr=rr,
            from_status=rr.status,
            to_status=rr.status,
            actor=actor,
            reason="replacement out of stock; retry later or refund instead",
        )
        return False
    rr.replacement_order = replacement
    rr.replacement_error = ""
    from_status = rr.status
    rr.process(at=timezone.now())
    rr.save()
    return_event_record(
        rr=rr,
        from_status=from_status,
        to_status=rr.status,
        actor=actor,
        reason=f"replacement order {replacement.number} created",
    )
    notify(replacement, "confirmed", extra={"return_number": rr.number}, dedupe_suffix="")
    return True


def out_of_stock(rr: ReturnRequest) -> ValidationFailed:
    return ValidationFailed(
        "The replacement could not be reserved.",
        details=[
            detail(
                "items",
                codes.REPLACEMENT_OUT_OF_STOCK,
                f"Not enough stock to replace the items of {rr.number}; "
                "retry later or refund instead.",
            )
        ],
    )
