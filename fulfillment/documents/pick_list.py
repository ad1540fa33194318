"""The batched pick list of a warehouse: every unit of its open shipments,
one row per SKU in bin order, with the shipments each is for."""

from __future__ import annotations

from django.utils import timezone

from inventory.models import Warehouse

from ..selectors import pick_list
from .common import build, para, table


def render_pick_list(warehouse: Warehouse, *, compress: bool = True) -> bytes:
    rows = pick_list(warehouse=warehouse)
    story = [
        para(f"Pick list {warehouse.code}", "Title"),
        para(
            f"{warehouse.name} · {timezone.localtime():%Y-%m-%d %H:%M} · "
            f"{sum(r.quantity for r in rows)} units, {len(rows)} SKUs, open shipments only"
        ),
    ]
    if not rows:
        story.append(para("Nothing to pick: no pending or packed shipments."))
    else:
        body = [["Bin", "SKU", "Item", "Qty", "For shipments"]]
        body += [
            [
                row.bin_location or "-",
                row.sku,
                para(row.name),
                str(row.quantity),
                para(", ".join(f"{number} ×{units}" for number, units in row.shipments)),
            ]
            for row in rows
        ]
        story.append(table(body, [22, 38, 55, 14, 51]))
    return build(story, title=f"Pick list {warehouse.code}", compress=compress)
