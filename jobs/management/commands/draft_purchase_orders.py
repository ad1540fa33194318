from django.core.management.base import BaseCommand

from inventory.replenishment import purchase_orders_draft_for_low_stock


class Command(BaseCommand):
    help = (
        "Draft purchase orders for products at or below their reorder point, skipping those "
        "already on an open purchase order (the drafting half of `low_stock_report`, no e-mail)."
    )

    def handle(self, *args, **options):
        drafted = purchase_orders_draft_for_low_stock()
        for po in drafted:
            lines = ", ".join(
                f"{line.quantity_ordered} × {line.product.sku}"
                for line in po.lines.select_related("product")
            )
            self.stdout.write(f"{po.number}: {po.supplier} → {po.warehouse.code}: {lines}")
        self.stdout.write(f"drafted {len(drafted)} purchase order(s)")
