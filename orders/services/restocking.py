"""Refund lines: what happens to the goods of a refunded line.

`restock` per line: `cancel` takes units that have not shipped off the order
(their reservation released, the line's `quantity_cancelled` counts them, they
are no longer to ship); `return` puts shipped units back on hand at a warehouse
serving the order's market (a `return` ledger row; the line's
`quantity_returned` counts them); `none` moves money only.

`restock_plan` checks every line against the order as it is (call it holding
the order's lock) and raises one VALIDATION_FAILED naming each bad line;
`restock_apply` books a plan, through inventory's services, in the same lock."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Sum
from django.utils import timezone
from django_fsm import can_proceed

from core.errors import ValidationFailed, detail
from inventory.models import Reservation, ReservationStatus, Warehouse
from inventory.services import stock_release_units, stock_restock

from ..models import Order, OrderLine
from .events import order_event_record
from .pricing import ZERO, money

RESTOCK_RETURN, RESTOCK_CANCEL, RESTOCK_NONE = "return", "cancel", "none"
RESTOCK_CHOICES = (RESTOCK_RETURN, RESTOCK_CANCEL, RESTOCK_NONE)


@dataclass(frozen=True)
class RefundLineInput:
    sku: str
    quantity: int
    restock: str
    warehouse: str | None = None


@dataclass(frozen=True)
class PlannedLine:
    line: OrderLine
    quantity: int
    restock: str
    warehouse: Warehouse | None  # where `return` units go back on hand

    def describe(self) -> str:
        if self.restock == RESTOCK_RETURN:
            return f"{self.line.sku} ×{self.quantity} returned to stock at {self.warehouse.code}"
        if self.restock == RESTOCK_CANCEL:
            return f"{self.line.sku} ×{self.quantity} cancelled (reservation released)"
        return f"{self.line.sku} ×{self.quantity} money only (no stock movement)"


def _market_warehouses(order: Order) -> dict[str, Warehouse]:
    return {
        w.code: w
        for w in Warehouse.objects.filter(active=True, markets__market_code=order.market.code)
    }


def _shipped_from(line: OrderLine) -> int | None:
    """The warehouse that shipped most of the line (as returns restock)."""
    row = (
        Reservation.objects.filter(order_line=line, quantity_fulfilled__gt=0)
        .values("stock_level__warehouse_id")
        .annotate(units=Sum("quantity_fulfilled"))
        .order_by("-units", "stock_level__warehouse_id")
        .first()
    )
    return row["stock_level__warehouse_id"] if row else None


def _reserved_open(line_ids: list[int]) -> dict[int, int]:
    rows = (
        Reservation.objects.filter(
            order_line_id__in=line_ids,
            status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED],
        )
        .values("order_line_id")
        .annotate(units=Sum(F("quantity") - F("quantity_fulfilled")))
    )
    return {row["order_line_id"]: row["units"] or 0 for row in rows}


def restock_plan(*, order: Order, lines: list[RefundLineInput]) -> list[PlannedLine]:
    """Check the refund's lines against the order (locked by the caller). Several
    entries for one sku add up against what that line has left."""
    order_lines = {line.sku.upper(): line for line in OrderLine.objects.filter(order=order)}
    warehouses = _market_warehouses(order)
    reserved = _reserved_open([line.pk for line in order_lines.values()])
    used: dict[tuple[int, str], int] = defaultdict(int)
    details, planned = [], []
    for i, item in enumerate(lines):
        line = order_lines.get(item.sku.upper())
        if line is None:
            details.append(
                detail(f"lines[{i}].sku", "PRODUCT_NOT_FOUND", f"{item.sku} is not in this order.")
            )
            continue
        warehouse = None
        if item.warehouse is not None:
            warehouse = warehouses.get(item.warehouse)
            if warehouse is None:
                details.append(
                    detail(
                        f"lines[{i}].warehouse",
                        "WAREHOUSE_NOT_FOUND",
                        f"No active warehouse {item.warehouse} serves {order.market.code}.",
                    )
                )
                continue
        used[(line.pk, item.restock)] += item.quantity
        wanted = used[(line.pk, item.restock)]
        if item.restock == RESTOCK_CANCEL:
            left = min(
                line.quantity - line.quantity_shipped - line.quantity_cancelled,
                reserved.get(line.pk, 0),
            )
            what = "not shipped and not cancelled (with stock still reserved)"
        elif item.restock == RESTOCK_RETURN:
            left = line.quantity_shipped - line.quantity_returned
            what = "shipped and not yet returned"
        else:
            left = line.quantity - line.quantity_cancelled
            what = "ordered and not cancelled"
        if wanted > left:
            details.append(
                detail(
                    f"lines[{i}].quantity",
                    "RESTOCK_QUANTITY_EXCEEDED",
                    f"{line.sku}: {left} unit(s) {what}, not {wanted}.",
                )
            )
            continue
        if item.restock == RESTOCK_RETURN and warehouse is None:
            shipped_from = _shipped_from(line)
            warehouse = next((w for w in warehouses.values() if w.pk == shipped_from), None)
            if warehouse is None:
                details.append(
                    detail(
                        f"lines[{i}].warehouse",
                        "WAREHOUSE_NOT_FOUND",
                        f"{line.sku} shipped from no warehouse serving {order.market.code}; "
                        "name one.",
                    )
                )
                continue
        planned.append(PlannedLine(line, item.quantity, item.restock, warehouse))
    if details:
        raise ValidationFailed("The refund's lines were rejected.", details=details)
    return planned


def _goods_share(order: Order, value: Decimal) -> Decimal:
    """The goods' part of what the order charges for goods worth `value`: the
    total without shipping (after the discount, with the tax charged) in
    proportion to the subtotal, rounded half-up to cents once."""
    if order.subtotal <= ZERO or value <= ZERO:
        return ZERO
    return money((order.total - order.shipping) * value / order.subtotal)


def restock_share(*, order: Order, planned: list[PlannedLine], captured: Decimal) -> Decimal:
    """What the customer paid for these units. Shipped units (`return`, `none`):
    their goods share. Units not shipped (`cancel`): payments capture as goods
    ship, so only what was captured beyond the shipped goods (and shipping) and
    beyond units cancelled before is theirs to give back: a single-capture
    gateway took it all at the first shipment, a multi-capture one none of it."""
    lines = list(OrderLine.objects.filter(order=order))
    cancel_value = sum(
        (p.line.unit_price * p.quantity for p in planned if p.restock == RESTOCK_CANCEL), ZERO
    )
    other_value = sum(
        (p.line.unit_price * p.quantity for p in planned if p.restock != RESTOCK_CANCEL), ZERO
    )
    amount = _goods_share(order, other_value)
    if cancel_value:
        shipped = sum((line.unit_price * line.quantity_shipped for line in lines), ZERO)
        cancelled = sum((line.unit_price * line.quantity_cancelled for line in lines), ZERO)
        due = ZERO if not shipped else order.shipping + _goods_share(order, shipped)
        unshipped_paid = captured - due - _goods_share(order, cancelled)
        amount += max(min(_goods_share(order, cancel_value), unshipped_paid), ZERO)
    return amount


def restock_apply(*, order: Order, planned: list[PlannedLine], actor, reason: str, reference: str):
    """Book a plan made under the same lock: counters on the lines, stock moved
    through inventory (reservations, then stock levels, in pk order)."""
    cancel = defaultdict(int)
    returned = defaultdict(int)
    for p in planned:
        if p.restock == RESTOCK_CANCEL:
            cancel[p.line.pk] += p.quantity
        elif p.restock == RESTOCK_RETURN:
            returned[p.line.pk] += p.quantity
    ledger_actor = actor if getattr(actor, "pk", None) else None
    why = f"{reference}: {reason}"[:255]
    if cancel:
        stock_release_units(
            quantities=dict(cancel), actor=ledger_actor, reason=why, reference=reference[:64]
        )
        for line_id, units in sorted(cancel.items()):
            OrderLine.objects.filter(pk=line_id).update(
                quantity_cancelled=F("quantity_cancelled") + units
            )
    for p in sorted(
        (p for p in planned if p.restock == RESTOCK_RETURN),
        key=lambda p: (p.line.product_id, p.warehouse.pk),
    ):
        stock_restock(
            product=p.line.product,
            warehouse=p.warehouse,
            quantity=p.quantity,
            actor=ledger_actor,
            reason=why,
            reference=reference,
        )
    for line_id, units in sorted(returned.items()):
        OrderLine.objects.filter(pk=line_id).update(
            quantity_returned=F("quantity_returned") + units
        )
    if cancel:
        _shipped_status(order=order, actor=actor, reason=reason)
    if returned:
        _returned_status(order=order, actor=actor, reason=reason)


def _shipped_status(*, order: Order, actor, reason: str) -> None:
    """A partly shipped order whose last unshipped units were cancelled has
    shipped all it ever will: `shipped`, as its last shipment would make it."""
    if order.status != "partially_shipped":
        return
    left = OrderLine.objects.filter(order=order).exclude(
        quantity=F("quantity_shipped") + F("quantity_cancelled")
    )
    if left.exists() or not can_proceed(order.ship_fully):
        return
    order.ship_fully(at=timezone.now())
    order.save()
    order_event_record(
        order=order,
        from_status="partially_shipped",
        to_status=order.status,
        actor=actor,
        reason=f"the units left to ship were cancelled — {reason}",
    )


def _returned_status(*, order: Order, actor, reason: str) -> None:
    """As returns do: `returned` once every shipped unit is back, else
    `partially_returned`, when the order's status allows it (a refund may take
    back units of an order not delivered yet; its status then stays)."""
    totals = OrderLine.objects.filter(order=order).aggregate(
        shipped=Sum("quantity_shipped"), returned=Sum("quantity_returned")
    )
    transition = (
        order.return_fully
        if (totals["returned"] or 0) >= (totals["shipped"] or 0)
        else order.return_partially
    )
    if not can_proceed(transition) or order.status == "returned":
        return
    from_status = order.status
    transition()
    order.save()
    if order.status != from_status:
        order_event_record(
            order=order, from_status=from_status, to_status=order.status, actor=actor, reason=reason
        )
