"""Stock writes. Every change to a stock level happens here, under a row lock
taken in primary-key order (so concurrent orders never deadlock), and leaves
a ledger row behind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from core.errors import ValidationFailed, detail
from core.sql import columns, for_update, select_models, write_together

from .errors import InsufficientStock, StockAdjustmentRefused
from .models import (
    MovementKind,
    Product,
    ProductPrice,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockMovement,
    Warehouse,
    WarehouseMarket,
)


@dataclass(frozen=True)
class ReserveRequest:
    order_line_id: int
    product_id: int
    quantity: int


def _lock_levels_for_market(*, product_ids: Iterable[int], market_code: str) -> list[StockLevel]:
    """The products' levels in the market's active warehouses, locked in
    primary-key order, each with `warehouse_priority` and `warehouse_code`.
    Plain SQL: it runs on every order placed, and the ORM's compile of this
    join cost more than the statement."""
    ids = sorted(set(product_ids))
    if not ids:
        return []
    sql = _LEVELS_FOR_MARKET.format(products=", ".join(["%s"] * len(ids))) + for_update(of="s")
    params = [*ids, True, market_code]
    return select_models(sql, params, StockLevel, extra=["warehouse_priority", "warehouse_code"])


_LEVELS_FOR_MARKET = (
    f"SELECT {columns(StockLevel, 's')}, w.priority, w.code "
    f"FROM {StockLevel._meta.db_table} s JOIN {Warehouse._meta.db_table} w ON w.id = s.warehouse_id "
    "WHERE s.product_id IN ({products}) AND w.active = %s AND EXISTS ("
    f"SELECT 1 FROM {WarehouseMarket._meta.db_table} wm "
    "WHERE wm.warehouse_id = w.id AND wm.market_code = %s) ORDER BY s.id"
)


# What a stock write changes on a level row.
LEVEL_COUNTS = ("on_hand", "reserved", "updated_at")


def _write(
    levels: Iterable[StockLevel],
    *,
    reservations: tuple[list[Reservation], list[str]] | None = None,
    movements: list[StockMovement] = (),
) -> None:
    """Save the counts of levels locked by the caller and the changed `fields`
    of `reservations`, and insert the ledger rows: one statement on PostgreSQL
    (`write_together`)."""
    updates = [(list(levels), LEVEL_COUNTS)]
    if reservations:
        updates.append(reservations)
    write_together(updates=updates, inserts=[list(movements)])


@dataclass
class StockPlan:
    """A reservation worked out under the levels' locks, not yet written: the
    levels with their new counts, the reservations and their ledger rows."""

    levels: list[StockLevel]
    reservations: list[Reservation]
    movements: list[StockMovement]

    def writes(self) -> dict:
        """The plan as `write_together` arguments, for a caller that writes it
        with rows of its own (a new order's) in one statement."""
        return {
            "updates": [(self.levels, LEVEL_COUNTS)],
            "inserts": [self.movements, self.reservations],
        }


# No savepoint of its own (two round trips on every order placed): an error here,
# a shortage included, marks the caller's transaction for rollback, which every
# caller wants anyway (placing, edits), or is caught at the caller's own savepoint
# (marketplace imports, replacement orders).
@transaction.atomic(savepoint=False)
def stock_reserve(**request) -> list[Reservation]:
    """Reserve each request from the market's warehouses by priority, splitting
    a line across warehouses when the first is short (the arguments are
    `stock_plan_reservation`'s). All or nothing: raises InsufficientStock
    naming every short product."""
    plan = stock_plan_reservation(**request)
    write_together(**plan.writes())
    return plan.reservations


def stock_plan_reservation(
    *,
    market_code: str,
    requests: list[ReserveRequest],
    expires_at: datetime | None,
    actor=None,
    reference: str = "",
) -> StockPlan:
    """`stock_reserve` without the write: lock the levels and work out the
    reservation (raises InsufficientStock). The caller writes the plan in the
    same transaction; `order_write` does, with the order's own rows. The order
    lines must have their primary keys (`ReserveRequest.order_line_id`)."""
    levels = _lock_levels_for_market(
        product_ids=(r.product_id for r in requests), market_code=market_code
    )
    by_product: dict[int, list[StockLevel]] = defaultdict(list)
    for level in sorted(levels, key=lambda lv: (lv.warehouse_priority, lv.warehouse_code)):
        by_product[level.product_id].append(level)

    wanted: dict[int, int] = defaultdict(int)
    for r in requests:
        wanted[r.product_id] += r.quantity
    shortages = {
        pid: sum(lv.available for lv in by_product[pid])
        for pid, qty in wanted.items()
        if sum(lv.available for lv in by_product[pid]) < qty
    }
    if shortages:
        raise InsufficientStock(shortages)

    reservations, movements, touched = [], [], {}
    for r in requests:
        remaining = r.quantity
        for level in by_product[r.product_id]:
            take = min(level.available, remaining)
            if take <= 0:
                continue
            level.reserved += take
            remaining -= take
            touched[level.pk] = level
            reservations.append(
                Reservation(
                    order_line_id=r.order_line_id,
                    stock_level=level,
                    quantity=take,
                    expires_at=expires_at,
                )
            )
            movements.append(
                StockMovement(
                    product_id=r.product_id,
                    warehouse_id=level.warehouse_id,
                    kind=MovementKind.RESERVATION,
                    reserved_delta=take,
                    actor=actor,
                    reason="reserved for order",
                    reference=reference,
                )
            )
            if remaining == 0:
                break
    return StockPlan(list(touched.values()), reservations, movements)


def _lock_open_reservations(order_line_ids: Iterable[int]) -> list[Reservation]:
    return list(
        Reservation.objects.select_for_update()
        .filter(
            order_line_id__in=list(order_line_ids),
            status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED],
        )
        .order_by("pk")
    )


@transaction.atomic
def stock_release(
    *, order_line_ids: Iterable[int], actor=None, reason: str, reference: str = ""
) -> int:
    """Give the still-reserved units of these order lines back. Idempotent:
    released reservations are skipped. Returns the units released."""
    reservations = _lock_open_reservations(order_line_ids)
    if not reservations:
        return 0
    levels = {
        lv.pk: lv
        for lv in StockLevel.objects.select_for_update()
        .filter(pk__in=sorted({r.stock_level_id for r in reservations}))
        .order_by("pk")
    }
    movements, released = [], 0
    for reservation in reservations:
        units = reservation.open_quantity
        level = levels[reservation.stock_level_id]
        level.reserved -= units
        released += units
        reservation.status = ReservationStatus.RELEASED
        reservation.updated_at = timezone.now()
        if units:
            movements.append(
                StockMovement(
                    product_id=level.product_id,
                    warehouse_id=level.warehouse_id,
                    kind=MovementKind.RELEASE,
                    reserved_delta=-units,
                    actor=actor,
                    reason=reason,
                    reference=reference,
                )
            )
    _write(
        levels.values(), reservations=(reservations, ["status", "updated_at"]), movements=movements
    )
    return released


def stock_commit(*, order_line_ids: Iterable[int]) -> int:
    """The order is confirmed: its reservations no longer expire. One plain
    statement (atomic on its own, so no savepoint): it runs on every order
    confirmed, and the ORM's compile cost more than the statement."""
    ids = list(order_line_ids)
    if not ids:
        return 0
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = _COMMIT.format(lines=", ".join(["%s"] * len(ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [ReservationStatus.COMMITTED, now, *ids, ReservationStatus.ACTIVE])
        return cursor.rowcount


_COMMIT = (
    f"UPDATE {Reservation._meta.db_table} SET status = %s, expires_at = NULL, updated_at = %s "
    "WHERE order_line_id IN ({lines}) AND status = %s"
)


def reservations_forget(*, order_line_ids: Iterable[int]) -> int:
    """Delete the released, never-fulfilled reservations of order lines about to be
    removed from their order (an order edit); the ledger keeps their movements.
    Call stock_release first, in the same transaction."""
    deleted, _ = Reservation.objects.filter(
        order_line_id__in=list(order_line_ids),
        status=ReservationStatus.RELEASED,
        quantity_fulfilled=0,
    ).delete()
    return deleted


@transaction.atomic
def stock_adjust(
    *,
    product: Product,
    warehouse: Warehouse,
    quantity: int,
    actor,
    reason: str,
    kind: str = MovementKind.ADJUSTMENT,
    reference: str = "",
) -> tuple[StockLevel, StockMovement]:
    """Add (receipt, found units) or remove (damage, count correction) units on
    hand. Refused when it would take on_hand below what is reserved."""
    if quantity == 0:
        raise StockAdjustmentRefused(
            details=[detail("quantity", "INVALID_QUANTITY", "Quantity must not be 0.")]
        )
    StockLevel.objects.get_or_create(product=product, warehouse=warehouse)
    level = StockLevel.objects.select_for_update().get(product=product, warehouse=warehouse)
    if level.on_hand + quantity < level.reserved:
        raise StockAdjustmentRefused(
            details=[
                detail(
                    "quantity",
                    "BELOW_RESERVED",
                    f"On hand would be {level.on_hand + quantity}, below the {level.reserved} reserved.",
                )
            ]
        )
    level.on_hand += quantity
    movement = StockMovement(
        product=product,
        warehouse=warehouse,
        kind=kind,
        on_hand_delta=quantity,
        actor=actor,
        reason=reason,
        reference=reference,
    )
    _write([level], movements=[movement])
    return level, movement


@transaction.atomic
def product_create(
    *, sku: str, name: str, prices: dict[str, Decimal], active: bool = True, actor=None
) -> Product:
    """Create a product with its per-market prices. Market codes are checked by
    the caller (inventory does not know markets)."""
    if Product.objects.filter(sku__iexact=sku).exists():
        raise ValidationFailed(details=[detail("sku", "SKU_TAKEN", f"{sku} already exists.")])
    product = Product.objects.create(sku=sku, name=name, active=active)
    ProductPrice.objects.bulk_create(
        [
            ProductPrice(product=product, market_code=code, amount=amount)
            for code, amount in prices.items()
        ]
    )
    return product


@dataclass(frozen=True)
class ShipRequest:
    order_line_id: int
    quantity: int


@transaction.atomic
def stock_ship(
    *,
    warehouse_id: int,
    requests: list[ShipRequest],
    actor=None,
    reason: str = "shipped",
    reference: str = "",
) -> int:
    """Units left the warehouse: take them off `reserved` and `on_hand` by
    consuming the order lines' open reservations in that warehouse (oldest
    first), with one "sale" ledger row each. A reservation is `fulfilled` once
    all its units have shipped. All or nothing: raises ValidationFailed
    (NOT_RESERVED_IN_WAREHOUSE) when a line has fewer units reserved there.
    Not idempotent by itself: the caller keeps a marker (a shipment's
    `stock_moved_at`) and checks it under its own lock."""
    wanted: dict[int, int] = defaultdict(int)
    for r in requests:
        wanted[r.order_line_id] += r.quantity
    reservations = [
        r
        for r in Reservation.objects.select_for_update(of=("self",))
        .filter(
            order_line_id__in=sorted(wanted),
            status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED],
            stock_level__warehouse_id=warehouse_id,
        )
        .order_by("pk")
        if r.open_quantity > 0
    ]
    levels = {
        lv.pk: lv
        for lv in StockLevel.objects.select_for_update()
        .filter(pk__in=sorted({r.stock_level_id for r in reservations}))
        .order_by("pk")
    }
    held: dict[int, int] = defaultdict(int)
    for r in reservations:
        held[r.order_line_id] += r.open_quantity
    short = {line_id: held[line_id] for line_id, qty in wanted.items() if held[line_id] < qty}
    if short:
        raise ValidationFailed(
            "Not enough units reserved in this warehouse.",
            details=[
                detail(
                    None,
                    "NOT_RESERVED_IN_WAREHOUSE",
                    f"Order line {line_id}: {units} reserved here, {wanted[line_id]} to ship.",
                )
                for line_id, units in short.items()
            ],
        )

    now = timezone.now()
    movements, touched, shipped = [], [], 0
    for reservation in reservations:
        take = min(reservation.open_quantity, wanted[reservation.order_line_id])
        if take <= 0:
            continue
        wanted[reservation.order_line_id] -= take
        level = levels[reservation.stock_level_id]
        level.reserved -= take
        level.on_hand -= take
        reservation.quantity_fulfilled += take
        if reservation.open_quantity == 0:
            reservation.status = ReservationStatus.FULFILLED
        reservation.updated_at = now
        touched.append(reservation)
        shipped += take
        movements.append(
            StockMovement(
                product_id=level.product_id,
                warehouse_id=level.warehouse_id,
                kind=MovementKind.SALE,
                on_hand_delta=-take,
                reserved_delta=-take,
                actor=actor if getattr(actor, "pk", None) else None,
                reason=reason[:255],
                reference=reference,
            )
        )
    _write(
        levels.values(),
        reservations=(touched, ["quantity_fulfilled", "status", "updated_at"]),
        movements=movements,
    )
    return shipped


# --- Catalog and warehouse set-up (seed_demo, imports): idempotent upserts ---


@transaction.atomic
def warehouse_upsert(
    *, code: str, name: str, country: str, priority: int, markets: Iterable[str]
) -> Warehouse:
    """Create or update a warehouse and add the markets it ships to."""
    warehouse, _ = Warehouse.objects.update_or_create(
        code=code, defaults={"name": name, "country": country, "priority": priority}
    )
    for market_code in markets:
        WarehouseMarket.objects.get_or_create(warehouse=warehouse, market_code=market_code)
    return warehouse


@transaction.atomic
def product_upsert(*, sku: str, name: str, prices: dict[str, Decimal]) -> Product:
    """Create or update an active product and its per-market prices."""
    product, _ = Product.objects.update_or_create(sku=sku, defaults={"name": name, "active": True})
    for market_code, amount in prices.items():
        ProductPrice.objects.update_or_create(
            product=product, market_code=market_code, defaults={"amount": amount}
        )
    return product


@transaction.atomic
def stock_top_up(
    *, product: Product, warehouse: Warehouse, level: int, bin_location: str, actor, reason: str
) -> None:
    """Receive what is missing to bring on-hand up to `level` (a ledger row, like
    any receipt), and give the level a bin when it has none."""
    current = StockLevel.objects.filter(product=product, warehouse=warehouse).first()
    missing = level - (current.on_hand if current else 0)
    if missing > 0:
        stock_adjust(
            product=product,
            warehouse=warehouse,
            quantity=missing,
            actor=actor,
            reason=reason,
            kind=MovementKind.RECEIPT,
        )
    StockLevel.objects.filter(product=product, warehouse=warehouse, bin_location="").update(
        bin_location=bin_location
    )


# --- Refund lines: units taken off an order, units put back on hand ----------------


@transaction.atomic
def stock_release_units(
    *, quantities: dict[int, int], actor=None, reason: str, reference: str = ""
) -> int:
    """Give back `units` of each order line's still-reserved stock ({order line
    id: units}), newest reservation first, leaving the rest reserved (a partial
    cancel; stock_release gives back all of it). Locks reservations, then stock
    levels, in pk order. All or nothing: raises ValidationFailed
    (NOT_ENOUGH_RESERVED) when a line holds fewer open units."""
    wanted = {line_id: units for line_id, units in quantities.items() if units > 0}
    reservations = [r for r in _lock_open_reservations(sorted(wanted)) if r.open_quantity > 0]
    held: dict[int, int] = defaultdict(int)
    for r in reservations:
        held[r.order_line_id] += r.open_quantity
    short = [line_id for line_id, units in wanted.items() if held[line_id] < units]
    if short:
        raise ValidationFailed(
            "Fewer units are reserved than would be released.",
            details=[
                detail(
                    None,
                    "NOT_ENOUGH_RESERVED",
                    f"Order line {line_id}: {held[line_id]} reserved, {wanted[line_id]} to release.",
                )
                for line_id in short
            ],
        )
    levels = {
        lv.pk: lv
        for lv in StockLevel.objects.select_for_update()
        .filter(pk__in=sorted({r.stock_level_id for r in reservations}))
        .order_by("pk")
    }
    now = timezone.now()
    movements, touched, released = [], [], 0
    for reservation in sorted(reservations, key=lambda r: -r.pk):
        take = min(reservation.open_quantity, wanted.get(reservation.order_line_id, 0))
        if take <= 0:
            continue
        wanted[reservation.order_line_id] -= take
        level = levels[reservation.stock_level_id]
        level.reserved -= take
        released += take
        if take < reservation.open_quantity:
            reservation.quantity -= take
        elif reservation.quantity_fulfilled:  # what is left of it has shipped
            reservation.quantity = reservation.quantity_fulfilled
            reservation.status = ReservationStatus.FULFILLED
        else:
            reservation.status = ReservationStatus.RELEASED
        reservation.updated_at = now
        touched.append(reservation)
        movements.append(
            StockMovement(
                product_id=level.product_id,
                warehouse_id=level.warehouse_id,
                kind=MovementKind.RELEASE,
                reserved_delta=-take,
                actor=actor if getattr(actor, "pk", None) else None,
                reason=reason[:255],
                reference=reference,
            )
        )
    _write(
        levels.values(),
        reservations=(touched, ["quantity", "status", "updated_at"]),
        movements=movements,
    )
    return released


def stock_restock(
    *, product: Product, warehouse: Warehouse, quantity: int, actor, reason: str, reference: str
) -> StockMovement:
    """Units that had shipped are back on hand and sellable: a `return` ledger
    row naming who, why and what (e.g. the order and refund)."""
    if quantity < 1:
        raise StockAdjustmentRefused(
            details=[detail("quantity", "INVALID_QUANTITY", "Quantity must be at least 1.")]
        )
    _, movement = stock_adjust(
        product=product,
        warehouse=warehouse,
        quantity=quantity,
        actor=actor if getattr(actor, "pk", None) else None,
        reason=reason[:255],
        kind=MovementKind.RETURN,
        reference=reference[:64],
    )
    return movement
