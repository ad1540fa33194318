"""Fulfillment reads: shipments for staff, the customer's tracking view, the
pick list, and the per-line counts other apps (returns) build on."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet, Sum

from core.errors import NotFound
from inventory.models import StockLevel, Warehouse
from orders.models import SHIPPABLE, Order

from .models import OPEN, S, Shipment, ShipmentLine, TrackingEvent


def shipments_qs() -> QuerySet[Shipment]:
    return Shipment.objects.select_related("order", "warehouse").prefetch_related(
        Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line"))
    )


def shipment_get(*, number: str) -> Shipment:
    """Staff only (the view checks permissions): any shipment by number."""
    shipment = shipments_qs().filter(number=number).first()
    if shipment is None:
        raise NotFound(f"No shipment {number}.")
    return shipment


def order_get_for_fulfillment(*, number: str) -> Order:
    order = Order.objects.filter(number=number).first()
    if order is None:
        raise NotFound(f"No order {number}.")
    return order


def order_shipments(*, order: Order) -> QuerySet[Shipment]:
    return shipments_qs().filter(order=order).order_by("created_at", "pk")


def tracking_shipments(*, order: Order) -> list[Shipment]:
    """What the customer sees: every shipment that was not cancelled, oldest
    first, with its lines and carrier events."""
    return list(
        order_shipments(order=order)
        .exclude(status=S.CANCELLED)
        .prefetch_related(
            Prefetch("events", queryset=TrackingEvent.objects.order_by("occurred_at", "pk"))
        )
    )


def line_quantities(*, order_id: int, statuses) -> dict[int, int]:
    """{order line id: units} in the order's shipments with these statuses."""
    rows = (
        ShipmentLine.objects.filter(
            shipment__order_id=order_id, shipment__status__in=list(statuses)
        )
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["order_line_id"]: row["units"] for row in rows}


def delivered_quantities(*, order_id: int) -> dict[int, int]:
    """{order line id: units delivered}: what a return may take back at most
    (lines missing from the dict had nothing delivered)."""
    return line_quantities(order_id=order_id, statuses=[S.DELIVERED])


# --- pick list -----------------------------------------------------------------------


@dataclass
class PickRow:
    sku: str
    name: str
    bin_location: str
    quantity: int = 0
    shipments: list[tuple[str, int]] = field(default_factory=list)  # (number, units)


def pick_list(*, warehouse: Warehouse) -> list[PickRow]:
    """Every unit of the warehouse's open (pending/packed) shipments, one row
    per SKU, in bin-location order so a picker walks the aisles once. SKUs
    without a bin come last. Shipments of an order cancelled meanwhile are
    left out: nobody should pick for them."""
    lines = (
        ShipmentLine.objects.filter(
            shipment__warehouse=warehouse,
            shipment__status__in=OPEN,
            shipment__order__status__in=SHIPPABLE,
        )
        .select_related("shipment", "order_line")
        .order_by("shipment__created_at", "shipment__pk", "pk")
    )
    rows: dict[int, PickRow] = {}
    for line in lines:
        product_id = line.order_line.product_id
        row = rows.get(product_id)
        if row is None:
            row = rows[product_id] = PickRow(line.order_line.sku, line.order_line.name, "")
        row.quantity += line.quantity
        row.shipments.append((line.shipment.number, line.quantity))
    bins = dict(
        StockLevel.objects.filter(warehouse=warehouse, product_id__in=list(rows)).values_list(
            "product_id", "bin_location"
        )
    )
    for product_id, row in rows.items():
        row.bin_location = bins.get(product_id) or ""
    return sorted(rows.values(), key=lambda r: (r.bin_location == "", r.bin_location, r.sku))


def warehouses_with_open_shipments() -> list[tuple[Warehouse, int]]:
    counts = defaultdict(int)
    open_shipments = Shipment.objects.filter(status__in=OPEN, order__status__in=SHIPPABLE)
    for warehouse_id in open_shipments.values_list("warehouse_id", flat=True):
        counts[warehouse_id] += 1
    return [(wh, counts.get(wh.pk, 0)) for wh in Warehouse.objects.all()]
