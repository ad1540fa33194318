"""Stock reconciliation: each stock level against its ledger and its open
reservations. Read-only `stock_drift()`; `stock_drift_fix()` repairs what can
be repaired, leaving an audit row (a ledger entry) per repair."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import F, Sum

from .models import MovementKind, Reservation, ReservationStatus, StockLevel, StockMovement


@dataclass
class StockDrift:
    sku: str
    warehouse: str
    stock_level_id: int
    on_hand: int
    ledger_on_hand: int
    reserved: int
    ledger_reserved: int
    open_reservations: int

    @property
    def kinds(self) -> list[str]:
        kinds = []
        if self.on_hand != self.ledger_on_hand:
            kinds.append("on_hand_vs_ledger")
        if self.reserved != self.open_reservations:
            kinds.append("reserved_vs_reservations")
        if self.reserved != self.ledger_reserved:
            kinds.append("reserved_vs_ledger")
        return kinds

    def as_dict(self) -> dict:
        return {**asdict(self), "kinds": self.kinds}


def _sums(queryset, key_fields, **aggregates) -> dict:
    rows = queryset.values(*key_fields).annotate(**aggregates)
    return {tuple(row[k] for k in key_fields): row for row in rows}


def stock_drift(*, progress: Callable[[int, int], None] | None = None) -> list[StockDrift]:
    ledger = _sums(
        StockMovement.objects.all(),
        ("product_id", "warehouse_id"),
        on_hand=Sum("on_hand_delta"),
        reserved=Sum("reserved_delta"),
    )
    open_res = _sums(
        Reservation.objects.filter(
            status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED]
        ),
        ("stock_level_id",),
        units=Sum(F("quantity") - F("quantity_fulfilled")),
    )
    levels = StockLevel.objects.select_related("product", "warehouse").order_by("pk")
    total = levels.count()
    drifts = []
    for index, level in enumerate(levels.iterator(chunk_size=2000), start=1):
        sums = ledger.get((level.product_id, level.warehouse_id), {})
        drift = StockDrift(
            sku=level.product.sku,
            warehouse=level.warehouse.code,
            stock_level_id=level.pk,
            on_hand=level.on_hand,
            ledger_on_hand=sums.get("on_hand") or 0,
            reserved=level.reserved,
            ledger_reserved=sums.get("reserved") or 0,
            open_reservations=open_res.get((level.pk,), {}).get("units") or 0,
        )
        if drift.kinds:
            drifts.append(drift)
        if progress and (index % 1000 == 0 or index == total):
            progress(index, total)
    return drifts


@transaction.atomic
def stock_drift_fix(drift: StockDrift, *, actor=None) -> list[str]:
    """Open reservations are the truth for `reserved`, the ledger for
    `on_hand`. A correcting ledger row keeps the ledger summing to the level.
    Returns what was done (empty when the level changed meanwhile)."""
    level = StockLevel.objects.select_for_update().get(pk=drift.stock_level_id)
    done = []
    reserved_target = drift.open_reservations
    on_hand_target = drift.ledger_on_hand
    if reserved_target > on_hand_target or reserved_target < 0:
        return [f"left alone: {reserved_target} reserved would exceed {on_hand_target} on hand"]
    if level.reserved != reserved_target:
        done.append(f"reserved {level.reserved} → {reserved_target} (open reservations)")
    if level.on_hand != on_hand_target:
        done.append(f"on_hand {level.on_hand} → {on_hand_target} (ledger)")
    ledger_reserved_fix = reserved_target - drift.ledger_reserved
    level.reserved, level.on_hand = reserved_target, on_hand_target
    level.save(update_fields=["reserved", "on_hand", "updated_at"])
    if done or ledger_reserved_fix:
        StockMovement.objects.create(
            product_id=level.product_id,
            warehouse_id=level.warehouse_id,
            kind=MovementKind.ADJUSTMENT,
            reserved_delta=ledger_reserved_fix,
            actor=actor,
            reason=("reconcile_stock --fix: " + "; ".join(done or ["ledger reserved realigned"]))[
                :255
            ],
            reference="reconcile",
        )
    return done or ["ledger reserved realigned"]
