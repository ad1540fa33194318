"""Creating a shipment: which units of an order leave from which warehouse."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Sum

from core.errors import TransitionNotAllowed, ValidationFailed, detail
from inventory.models import Reservation, ReservationStatus, Warehouse
from orders.models import SHIPPABLE, Order, OrderLine, OrderStatus
from orders.services.fulfillment import order_start_processing
from orders.services.locking import order_lock

from ..models import S, Shipment, ShipmentLine

CREATE_FAILED = "The shipment could not be created."


@dataclass(frozen=True)
class ShipmentItemInput:
    sku: str
    quantity: int


def units_in_shipments(order: Order) -> dict[int, int]:
    """Units per order line already in a shipment that is not cancelled:
    what no new shipment may take again."""
    rows = (
        ShipmentLine.objects.filter(shipment__order=order)
        .exclude(shipment__status=S.CANCELLED)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["order_line_id"]: row["units"] for row in rows}


def unallocated_reserved(order: Order) -> dict[tuple[int, int], int]:
    """{(warehouse id, order line id): units} still reserved for the order in a
    warehouse and not yet promised to a shipment from there. Shipments whose
    stock already moved consumed their reservations, so only the others count."""
    free: dict[tuple[int, int], int] = defaultdict(int)
    reserved = (
        Reservation.objects.filter(
            order_line__order=order,
            status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED],
        )
        .values("stock_level__warehouse_id", "order_line_id")
        .annotate(units=Sum(F("quantity") - F("quantity_fulfilled")))
    )
    for row in reserved:
        free[(row["stock_level__warehouse_id"], row["order_line_id"])] += row["units"]
    promised = (
        ShipmentLine.objects.filter(shipment__order=order, shipment__stock_moved_at__isnull=True)
        .exclude(shipment__status=S.CANCELLED)
        .values("shipment__warehouse_id", "order_line_id")
        .annotate(units=Sum("quantity"))
    )
    for row in promised:
        free[(row["shipment__warehouse_id"], row["order_line_id"])] -= row["units"]
    return free


def _check_items(
    items: list[ShipmentItemInput], lines: dict[str, OrderLine], taken: dict[int, int]
) -> list[dict]:
    details, seen = [], set()
    for i, item in enumerate(items):
        line = lines.get(item.sku)
        if item.sku in seen:
            details.append(
                detail(f"items[{i}].sku", "DUPLICATE_ITEM", f"{item.sku} appears more than once.")
            )
        elif line is None:
            details.append(
                detail(f"items[{i}].sku", "UNKNOWN_ITEM", f"{item.sku} is not in this order.")
            )
        elif item.quantity < 1:
            details.append(
                detail(f"items[{i}].quantity", "INVALID_QUANTITY", "Quantity must be at least 1.")
            )
        elif item.quantity > line.quantity - line.quantity_cancelled - taken.get(line.pk, 0):
            left = line.quantity - line.quantity_cancelled - taken.get(line.pk, 0)
            details.append(
                detail(
                    f"items[{i}].quantity",
                    "OVER_SHIPMENT",
                    f"Only {left} of {item.sku} left to ship ({line.quantity} ordered).",
                )
            )
        seen.add(item.sku)
    return details


def _choose_warehouse(
    *,
    order: Order,
    wanted: list[tuple[int, OrderLine, int]],
    warehouse_code: str | None,
) -> Warehouse:
    free = unallocated_reserved(order)
    if warehouse_code:
        warehouse = Warehouse.objects.filter(code=warehouse_code).first()
        if warehouse is None:
            raise ValidationFailed(
                CREATE_FAILED,
                details=[
                    detail("warehouse", "WAREHOUSE_NOT_FOUND", f"No warehouse {warehouse_code!r}.")
                ],
            )
        short = [
            detail(
                f"items[{i}].quantity",
                "NOT_RESERVED_IN_WAREHOUSE",
                f"Only {max(free[(warehouse.pk, line.pk)], 0)} of {line.sku} "
                f"reserved for this order in {warehouse.code}.",
            )
            for i, line, qty in wanted
            if free[(warehouse.pk, line.pk)] < qty
        ]
        if short:
            raise ValidationFailed(CREATE_FAILED, details=short)
        return warehouse
    # Default: the warehouse holding the reservations for every requested item.
    candidate_ids = {wh for wh, _ in free}
    fits = [
        wh for wh in candidate_ids if all(free[(wh, line.pk)] >= qty for _, line, qty in wanted)
    ]
    warehouse = Warehouse.objects.filter(pk__in=fits).order_by("priority", "code").first()
    if warehouse is None:
        raise ValidationFailed(
            CREATE_FAILED,
            details=[
                detail(
                    "warehouse",
                    "NOT_RESERVED_IN_WAREHOUSE",
                    "No single warehouse holds this order's reserved units of every requested "
                    "item; name a warehouse and ship the rest from another.",
                )
            ],
        )
    return warehouse


@transaction.atomic
def shipment_create(
    *,
    order: Order,
    items: list[ShipmentItemInput],
    actor,
    warehouse_code: str | None = None,
) -> Shipment:
    """A `pending` shipment of these units from one warehouse. Only for
    confirmed, processing or partially shipped orders; the first one moves a
    confirmed order to processing. Never more per line than ordered, counting
    every shipment that is not cancelled, checked under the order's row lock so
    two staff members cannot both promise the last unit."""
    order = order_lock(order.pk)
    if order.status not in SHIPPABLE:
        raise TransitionNotAllowed(
            f"Order {order.number} is {order.status}; shipments are created for confirmed, "
            "processing or partially shipped orders."
        )
    if not items:
        raise ValidationFailed(
            CREATE_FAILED, details=[detail("items", "ITEMS_REQUIRED", "Name at least one item.")]
        )
    lines = {line.sku: line for line in order.lines.all()}
    details = _check_items(items, lines, units_in_shipments(order))
    if details:
        raise ValidationFailed(CREATE_FAILED, details=details)
    wanted = [(i, lines[item.sku], item.quantity) for i, item in enumerate(items)]
    warehouse = _choose_warehouse(order=order, wanted=wanted, warehouse_code=warehouse_code)

    shipment = Shipment.objects.create(
        order=order,
        warehouse=warehouse,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    shipment.number = f"SH-{shipment.pk:06d}"
    Shipment.objects.filter(pk=shipment.pk).update(number=shipment.number)
    ShipmentLine.objects.bulk_create(
        [ShipmentLine(shipment=shipment, order_line=line, quantity=qty) for _, line, qty in wanted]
    )
    if order.status == OrderStatus.CONFIRMED:
        order_start_processing(
            order_id=order.pk, actor=actor, reason=f"shipment {shipment.number} created"
        )
    return shipment
