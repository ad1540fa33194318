import json

from django.core.management.base import BaseCommand

from jobs.stock_report import low_stock_report_run


class Command(BaseCommand):
    help = (
        "Draft purchase orders for products at or below their reorder point and e-mail the "
        "low stock report per warehouse to OPS_EMAILS (the daily beat job, by hand; once a day)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="Machine-readable report on stdout."
        )

    def handle(self, *args, **options):
        run = low_stock_report_run()
        if options["json"]:
            self.stdout.write(json.dumps(run.as_dict(), indent=2))
            return
        if not run.items:
            self.stdout.write(self.style.SUCCESS("Nothing is running low."))
        for item in run.items:
            on_order = f", on {item.purchase_order}" if item.purchase_order else ""
            self.stdout.write(
                f"{item.sku} @ {item.warehouse}: {item.available} available "
                f"(threshold {item.threshold}{on_order})"
            )
        self.stdout.write(
            f"drafted {len(run.drafted)} purchase order(s): {', '.join(run.drafted) or '-'}"
        )
        for warehouse, recipients in run.emailed.items():
            self.stdout.write(
                f"report for {warehouse} to: {', '.join(recipients) or '(OPS_EMAILS empty)'}"
            )
