"""Receiving a return: count what came back and in what condition, restock
it, mark it returned on the order, and send a replacement when one was asked for."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from core.errors import TransitionNotAllowed, ValidationFailed, detail
from orders.services.refunds import order_returns_record

from .. import errors as codes
from ..models import Condition, Resolution, ReturnLine, ReturnRequest, ReturnStatus
from .common import notify, refuse, return_event_record, return_lock
from .replacements import out_of_stock, replacement_attempt
from .stock import restock_returned

RECEIVE_FAILED = "The receipt was rejected."


@dataclass(frozen=True)
class ReceivedItemInput:
    sku: str
    quantity: int
    condition: str  # Condition value


def _count(rr: ReturnRequest, items: list[ReceivedItemInput]) -> dict[str, dict[str, int]]:
    """{sku: {condition: units}}, or ValidationFailed naming every bad item."""
    if not items:
        raise ValidationFailed(
            RECEIVE_FAILED,
            details=[detail("items", codes.ITEMS_REQUIRED, "Name what was received.")],
        )
    requested = {line.sku: line.quantity for line in rr.lines.all()}
    counted: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    details = []
    for i, item in enumerate(items):
        if item.sku not in requested:
            details.append(
                detail(
                    f"items[{i}].sku",
                    codes.PRODUCT_NOT_FOUND,
                    f"{item.sku} is not part of return {rr.number}.",
                )
            )
            continue
        counted[item.sku][item.condition] += item.quantity
        if sum(counted[item.sku].values()) > requested[item.sku]:
            details.append(
                detail(
                    f"items[{i}].quantity",
                    codes.RETURN_QUANTITY_EXCEEDED,
                    f"Return {rr.number} has {requested[item.sku]} of {item.sku}.",
                )
            )
    if details:
        raise ValidationFailed(RECEIVE_FAILED, details=details)
    return counted


@transaction.atomic
def return_receive(*, rr: ReturnRequest, items: list[ReceivedItemInput], actor) -> ReturnRequest:
    """pickup_scheduled | in_transit → received. Resellable units go back on hand
    (a `return` ledger row) in the warehouse they shipped from; damaged ones are
    received and written off; the order line's quantity_returned grows. Units
    asked for but not received are simply not returned (nor refunded). A
    replacement return then gets its replacement order (→ processed) or keeps
    REPLACEMENT_OUT_OF_STOCK (stays received)."""
    order, rr = return_lock(rr.pk)
    if not can_proceed(rr.receive):
        raise refuse(rr, "received")
    counted = _count(rr, items)
    lines = list(rr.lines.select_related("order_line__product"))
    for line in lines:
        units = counted.get(line.sku, {})
        line.quantity_resellable = units.get(Condition.RESELLABLE, 0)
        line.quantity_damaged = units.get(Condition.DAMAGED, 0)
        if line.quantity_received:
            restock_returned(
                line=line.order_line,
                resellable=line.quantity_resellable,
                damaged=line.quantity_damaged,
                market_code=order.market.code,
                actor=actor,
                reference=rr.number,
            )
    ReturnLine.objects.bulk_update(lines, ["quantity_resellable", "quantity_damaged"])

    from_status = rr.status
    rr.receive(at=timezone.now())
    rr.save()
    summary = ", ".join(
        f"{line.sku}: {line.quantity_resellable} resellable, {line.quantity_damaged} damaged"
        for line in lines
    )
    return_event_record(
        rr=rr, from_status=from_status, to_status=rr.status, actor=actor, reason=summary
    )
    # The order's returned status follows quantity_returned, which changes here
    # (for refunds and exchanges alike), not when money moves.
    order_returns_record(
        order=order,
        quantities={line.order_line_id: line.quantity_received for line in lines},
        actor=actor,
        reason=f"return {rr.number} received",
    )
    if rr.resolution == Resolution.REPLACEMENT:
        replacement_attempt(rr, actor=actor)
    notify(
        order,
        "returned",
        extra={"return_number": rr.number, "return_status": rr.status},
        dedupe_suffix=f"{rr.number}:received",
    )
    return rr


@transaction.atomic
def return_replace(*, rr: ReturnRequest, actor) -> ReturnRequest:
    """Retry the replacement of a received exchange (after new stock arrived).
    Still short: 400 REPLACEMENT_OUT_OF_STOCK and nothing changes."""
    _, rr = return_lock(rr.pk)
    if (
        rr.status != ReturnStatus.RECEIVED
        or rr.resolution != Resolution.REPLACEMENT
        or rr.replacement_order_id is not None
    ):
        raise TransitionNotAllowed(
            f"Return {rr.number} is {rr.status} ({rr.resolution}); there is no replacement to send."
        )
    if not replacement_attempt(rr, actor=actor):
        raise out_of_stock(rr)
    return rr
