"""Replenishment: what is running low, and purchase orders to bring it back.

Reads: `low_stock_list` (reorder points whose warehouse has `available` at or
below the reorder level). Writes: drafting purchase orders for what is low
(the daily stock check; idempotent and safe to run twice at once), then
`purchase_order_mark_ordered`, `purchase_order_receive` (stock arrives through
`inventory.services.stock_adjust`, one receipt ledger row per line) and
`purchase_order_cancel`. Like the rest of `inventory`, imports no other app:
the staff e-mail about low stock is sent by a higher app (`jobs.stock_report`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_fsm import can_proceed

from core.errors import TransitionNotAllowed, ValidationFailed, detail

from .models import (
    OPEN_PURCHASE_ORDER_STATUSES,
    MovementKind,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    ReorderPoint,
    StockLevel,
    Supplier,
    Warehouse,
)
from .services import stock_adjust

DRAFTED_NOTE = "Drafted by the daily stock check."


# --- reads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LowStockItem:
    """One product running low in one warehouse (the `low_stock_report` item)."""

    sku: str
    name: str
    warehouse: str
    available: int
    on_hand: int
    reserved: int
    threshold: int
    product_id: int
    warehouse_id: int
    supplier: str
    reorder_quantity: int
    purchase_order: str  # the open purchase order bringing more, if any

    def as_dict(self) -> dict:
        return asdict(self)


def _reorder_points():
    return ReorderPoint.objects.filter(product__active=True, warehouse__active=True)


def _levels(points) -> dict[tuple[int, int], tuple[int, int]]:
    """(product_id, warehouse_id) → (on_hand, reserved); absent means no stock at all."""
    pairs = {(p.product_id, p.warehouse_id) for p in points}
    if not pairs:
        return {}
    rows = StockLevel.objects.filter(
        product_id__in={p for p, _ in pairs}, warehouse_id__in={w for _, w in pairs}
    ).values_list("product_id", "warehouse_id", "on_hand", "reserved")
    return {(p, w): (on_hand, reserved) for p, w, on_hand, reserved in rows}


def _on_order(points) -> dict[tuple[int, int], str]:
    """(product_id, warehouse_id) → number of an open purchase order with units still to come."""
    if not points:
        return {}
    lines = (
        PurchaseOrderLine.objects.filter(
            purchase_order__status__in=OPEN_PURCHASE_ORDER_STATUSES,
            quantity_received__lt=F("quantity_ordered"),
            product_id__in={p.product_id for p in points},
            purchase_order__warehouse_id__in={p.warehouse_id for p in points},
        )
        .order_by("purchase_order_id")
        .values_list("product_id", "purchase_order__warehouse_id", "purchase_order__number")
    )
    found: dict[tuple[int, int], str] = {}
    for product_id, warehouse_id, number in lines:
        found.setdefault((product_id, warehouse_id), number or "")
    return found


def _low(points) -> list[tuple[ReorderPoint, int, int]]:
    levels = _levels(points)
    low = []
    for point in points:
        on_hand, reserved = levels.get((point.product_id, point.warehouse_id), (0, 0))
        if on_hand - reserved <= point.reorder_level:
            low.append((point, on_hand, reserved))
    return low


def low_stock_list(*, warehouse: Warehouse | None = None) -> list[LowStockItem]:
    """Active products at or below their reorder level, per active warehouse,
    ordered by warehouse then SKU."""
    points = _reorder_points().select_related("product", "warehouse", "supplier")
    if warehouse is not None:
        points = points.filter(warehouse=warehouse)
    points = list(points.order_by("warehouse__priority", "warehouse__code", "product__sku"))
    low = _low(points)
    on_order = _on_order([point for point, _, _ in low])
    return [
        LowStockItem(
            sku=point.product.sku,
            name=point.product.name,
            warehouse=point.warehouse.code,
            available=on_hand - reserved,
            on_hand=on_hand,
            reserved=reserved,
            threshold=point.reorder_level,
            product_id=point.product_id,
            warehouse_id=point.warehouse_id,
            supplier=point.supplier.name,
            reorder_quantity=point.reorder_quantity,
            purchase_order=on_order.get((point.product_id, point.warehouse_id), ""),
        )
        for point, on_hand, reserved in low
    ]


# --- drafting --------------------------------------------------------------------------------


def purchase_order_assign_number(*, po: PurchaseOrder) -> PurchaseOrder:
    """`PO-000001` from the primary key, once (the admin's add form calls this too)."""
    if not po.number:
        po.number = f"PO-{po.pk:06d}"
        PurchaseOrder.objects.filter(pk=po.pk, number__isnull=True).update(number=po.number)
    return po


@transaction.atomic
def purchase_order_create(
    *,
    supplier: Supplier,
    warehouse: Warehouse,
    lines: dict[int, int],
    actor,
    notes: str = "",
) -> PurchaseOrder:
    """A draft purchase order for {product_id: units}."""
    if not lines or any(qty <= 0 for qty in lines.values()):
        raise ValidationFailed(
            details=[detail("lines", "INVALID_QUANTITY", "Order at least one unit of each line.")]
        )
    po = PurchaseOrder.objects.create(
        supplier=supplier,
        warehouse=warehouse,
        notes=notes,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    purchase_order_assign_number(po=po)
    PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLine(purchase_order=po, product_id=product_id, quantity_ordered=qty)
            for product_id, qty in sorted(lines.items())
        ]
    )
    return po


@transaction.atomic
def purchase_orders_draft_for_low_stock(*, actor=None) -> list[PurchaseOrder]:
    """Draft one purchase order per supplier and warehouse for every product at
    or below its reorder level, for its reorder quantity, unless an open
    purchase order (draft, ordered, partially received) already brings it.

    Idempotent, and safe to run twice at once: the reorder points are locked
    (in primary-key order) before anything is decided, so a second runner waits
    for the first to commit and then finds its drafts."""
    points = list(
        _reorder_points()
        .filter(supplier__active=True)
        .select_for_update(of=("self",))
        .select_related("supplier", "warehouse")
        .order_by("pk")
    )
    low = [point for point, _, _ in _low(points)]
    on_order = _on_order(low)
    groups: dict[tuple[int, int], list[ReorderPoint]] = defaultdict(list)
    for point in low:
        if (point.product_id, point.warehouse_id) not in on_order:
            groups[(point.supplier_id, point.warehouse_id)].append(point)
    drafted = []
    for group in sorted(groups.values(), key=lambda g: (g[0].warehouse.code, g[0].supplier.name)):
        drafted.append(
            purchase_order_create(
                supplier=group[0].supplier,
                warehouse=group[0].warehouse,
                lines={point.product_id: point.reorder_quantity for point in group},
                actor=actor,
                notes=DRAFTED_NOTE,
            )
        )
    return drafted


# --- the purchase order's life ----------------------------------------------------------------


def _lock(po: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().get(pk=po.pk)


def _refuse(po: PurchaseOrder, action: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(
        f"{po} is {po.get_status_display().lower()}; it cannot be {action}."
    )


@transaction.atomic
def purchase_order_mark_ordered(*, po: PurchaseOrder, actor) -> PurchaseOrder:
    """draft → ordered: sent to the supplier (by staff, outside Orderly)."""
    po = _lock(po)
    if not can_proceed(po.mark_ordered):
        raise _refuse(po, "marked ordered")
    if not po.lines.exists():
        raise ValidationFailed(
            f"{po} has no lines.", details=[detail("lines", "EMPTY", "Add at least one line.")]
        )
    po.mark_ordered(at=timezone.now())
    po.save()
    return po


@transaction.atomic
def purchase_order_receive(*, po: PurchaseOrder, lines: dict[int, int], actor) -> PurchaseOrder:
    """Units arrived ({product_id: units}): each goes on hand in the purchase
    order's warehouse with a receipt ledger row naming the purchase order, and
    the order moves to partially_received or received. All or nothing; never
    more than ordered."""
    po = _lock(po)
    if not can_proceed(po.receive):
        raise _refuse(po, "received")
    po_lines = {
        line.product_id: line
        for line in PurchaseOrderLine.objects.select_for_update()
        .filter(purchase_order=po)
        .select_related("product")
        .order_by("pk")
    }
    problems = []
    for product_id, qty in sorted(lines.items()):
        line = po_lines.get(product_id)
        if line is None:
            problems.append(
                detail("lines", "NOT_ON_ORDER", f"Product {product_id} is not on {po}.")
            )
        elif qty <= 0:
            problems.append(
                detail("lines", "INVALID_QUANTITY", f"{line.product.sku}: receive at least 1.")
            )
        elif qty > line.quantity_remaining:
            problems.append(
                detail(
                    "lines",
                    "OVER_RECEIPT",
                    f"{line.product.sku}: {qty} received, {line.quantity_remaining} outstanding.",
                )
            )
    if problems or not lines:
        raise ValidationFailed(
            f"Nothing was received on {po}.",
            details=problems or [detail("lines", "EMPTY", "Receive at least one line.")],
        )
    # Lock the stock levels in primary-key order, as every other stock write does.
    for product_id in lines:
        StockLevel.objects.get_or_create(product_id=product_id, warehouse_id=po.warehouse_id)
    list(
        StockLevel.objects.select_for_update()
        .filter(product_id__in=sorted(lines), warehouse_id=po.warehouse_id)
        .order_by("pk")
    )
    warehouse = po.warehouse
    for product_id, qty in sorted(lines.items()):
        line = po_lines[product_id]
        stock_adjust(
            product=line.product,
            warehouse=warehouse,
            quantity=qty,
            actor=actor if getattr(actor, "pk", None) else None,
            reason=f"{po.number}: received from {po.supplier.name}"[:255],
            kind=MovementKind.RECEIPT,
            reference=po.number,
        )
        line.quantity_received += qty
    PurchaseOrderLine.objects.bulk_update(list(po_lines.values()), ["quantity_received"])
    po.receive(
        complete=all(line.quantity_remaining == 0 for line in po_lines.values()),
        at=timezone.now(),
    )
    po.save()
    return po


def purchase_order_remaining(po: PurchaseOrder) -> dict[int, int]:
    """{product_id: units still to come}: what "Receive all remaining" receives."""
    return {
        line.product_id: line.quantity_remaining
        for line in po.lines.all()
        if line.quantity_remaining > 0
    }


@transaction.atomic
def purchase_order_cancel(*, po: PurchaseOrder, actor, reason: str = "") -> PurchaseOrder:
    """draft or ordered → cancelled (nothing received yet)."""
    po = _lock(po)
    if not can_proceed(po.cancel):
        raise _refuse(po, "cancelled")
    po.cancel(reason=reason or "cancelled", at=timezone.now())
    po.save()
    return po


__all__ = [
    "LowStockItem",
    "PurchaseOrderStatus",
    "low_stock_list",
    "purchase_order_assign_number",
    "purchase_order_cancel",
    "purchase_order_create",
    "purchase_order_mark_ordered",
    "purchase_order_receive",
    "purchase_order_remaining",
    "purchase_orders_draft_for_low_stock",
]
