"""The daily stock check (a beat job, and `manage.py low_stock_report`).

1. `inventory.replenishment` drafts purchase orders for what is at or below its
   reorder point (once: products already on an open purchase order are skipped);
2. each warehouse with products running low gets a `low_stock_report` e-mail to
   every address in OPS_EMAILS, deduplicated per day, warehouse and address.

`inventory` imports no other app and so cannot reach `notifications`; this job
reads inventory and queues notifications through their services.
Safe to run twice at once: drafting locks the reorder points, and the e-mails'
dedupe keys let only one of two identical notifications be written.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory.replenishment import (
    LowStockItem,
    low_stock_list,
    purchase_orders_draft_for_low_stock,
)
from notifications.services import notification_queue

logger = logging.getLogger(__name__)

TEMPLATE = "low_stock_report"
ITEM_FIELDS = ("sku", "name", "warehouse", "available", "on_hand", "reserved", "threshold")


@dataclass
class LowStockRun:
    items: list[LowStockItem] = field(default_factory=list)
    drafted: list[str] = field(default_factory=list)  # purchase order numbers
    emailed: dict[str, list[str]] = field(default_factory=dict)  # warehouse → recipients

    def as_dict(self) -> dict:
        return {
            "items": [item.as_dict() for item in self.items],
            "drafted_purchase_orders": self.drafted,
            "emailed": self.emailed,
        }


def _context(items: list[LowStockItem], generated_at: str) -> dict:
    return {
        "items": [
            {
                **{name: getattr(item, name) for name in ITEM_FIELDS},
                "supplier": item.supplier,
                "purchase_order": item.purchase_order,
            }
            for item in items
        ],
        "generated_at": generated_at,
    }


def low_stock_report_run(*, now: datetime | None = None, actor=None) -> LowStockRun:
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    drafted = purchase_orders_draft_for_low_stock(actor=actor)
    run = LowStockRun(items=low_stock_list(), drafted=[po.number for po in drafted])
    by_warehouse: dict[str, list[LowStockItem]] = defaultdict(list)
    for item in run.items:
        by_warehouse[item.warehouse].append(item)
    recipients = [address for address in getattr(settings, "OPS_EMAILS", []) if address]
    if by_warehouse and not recipients:
        logger.warning("%d product(s) running low, but OPS_EMAILS is empty", len(run.items))
    generated_at = f"{timezone.localtime(now):%Y-%m-%d %H:%M %Z}"
    for warehouse, items in by_warehouse.items():
        context = _context(items, generated_at)
        # One transaction per warehouse: its e-mails are sent once it commits.
        with transaction.atomic():
            for address in recipients:
                notification_queue(
                    recipient=address,
                    channel="email",
                    template=TEMPLATE,
                    context=context,
                    reference=f"low-stock-{warehouse}"[:100],
                    dedupe_key=f"low-stock:{day}:{warehouse}:{address.lower()}",
                )
        run.emailed[warehouse] = recipients
    return run
