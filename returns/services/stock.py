"""Putting returned units back, through the inventory services so every unit
leaves a ledger row.

Damaged units are booked as a pair: a `return` receipt (+n) then a
`write_off` (−n). on_hand ends where it was, and the ledger shows both that
the units came back and that they were scrapped (stock_adjust refuses a
zero-unit movement, and a pair keeps every row an honest on_hand delta)."""

from __future__ import annotations

from django.db.models import Sum

from core.errors import ValidationFailed, detail
from inventory.models import MovementKind, Reservation, Warehouse
from inventory.services import stock_adjust
from orders.models import OrderLine

from .. import errors as codes


def restock_warehouse(line: OrderLine, market_code: str) -> Warehouse:
    """Where the line's units shipped from (the warehouse that shipped most of
    it), else the highest-priority active warehouse serving the market."""
    shipped = (
        Reservation.objects.filter(order_line=line, quantity_fulfilled__gt=0)
        .values("stock_level__warehouse_id")
        .annotate(units=Sum("quantity_fulfilled"))
        .order_by("-units", "stock_level__warehouse_id")
        .first()
    )
    if shipped is not None:
        return Warehouse.objects.get(pk=shipped["stock_level__warehouse_id"])
    warehouse = (
        Warehouse.objects.filter(active=True, markets__market_code=market_code)
        .order_by("priority", "code")
        .first()
    )
    if warehouse is None:
        raise ValidationFailed(
            "No warehouse can take the returned units.",
            details=[detail(None, codes.NO_WAREHOUSE, f"No warehouse serves {market_code}.")],
        )
    return warehouse


def restock_returned(
    *, line: OrderLine, resellable: int, damaged: int, market_code: str, actor, reference: str
) -> Warehouse:
    """Book received units of one order line: resellable back on hand, damaged
    received and written off (see the module docstring)."""
    warehouse = restock_warehouse(line, market_code)
    actor = actor if getattr(actor, "pk", None) else None

    def move(units: int, kind: str, why: str) -> None:
        stock_adjust(
            product=line.product,
            warehouse=warehouse,
            quantity=units,
            actor=actor,
            reason=f"{reference}: {why}"[:255],
            kind=kind,
            reference=reference,
        )

    if resellable:
        move(resellable, MovementKind.RETURN, "returned resellable")
    if damaged:
        move(damaged, MovementKind.RETURN, "returned damaged")
        move(-damaged, MovementKind.WRITE_OFF, "damaged on return, written off")
    return warehouse
