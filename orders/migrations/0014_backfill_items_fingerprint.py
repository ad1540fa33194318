"""Fill `items_fingerprint` for the orders of the last day, so that the
duplicate-order rule compares orders placed just before the deploy (and
confirms pending ones) as it did before fingerprints. Older orders are outside
any duplicate window; they keep an empty fingerprint."""

import hashlib
import json
from datetime import timedelta

from django.db import migrations
from django.utils import timezone

BATCH = 1000


def fingerprint(shipping_address, items) -> str:
    # A frozen copy of orders.services.risk.order_fingerprint (a test holds them equal).
    canonical = json.dumps(
        [shipping_address, sorted([sku, quantity] for sku, quantity in items)],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def backfill(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderLine = apps.get_model("orders", "OrderLine")
    recent = Order.objects.filter(
        created_at__gte=timezone.now() - timedelta(days=1), items_fingerprint=""
    ).order_by("pk")
    last = 0
    while True:
        batch = list(recent.filter(pk__gt=last).values_list("pk", "shipping_address")[:BATCH])
        if not batch:
            return
        items: dict[int, list] = {pk: [] for pk, _ in batch}
        for order_id, sku, quantity in OrderLine.objects.filter(order_id__in=items).values_list(
            "order_id", "sku", "quantity"
        ):
            items[order_id].append((sku, quantity))
        for pk, address in batch:
            Order.objects.filter(pk=pk).update(items_fingerprint=fingerprint(address, items[pk]))
        last = batch[-1][0]


class Migration(migrations.Migration):
    dependencies = [("orders", "0013_order_items_fingerprint")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
