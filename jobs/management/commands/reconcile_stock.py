import json
import sys

from django.core.management.base import BaseCommand

from inventory.reconciliation import stock_drift, stock_drift_fix


class Command(BaseCommand):
    help = (
        "Check every stock level against the movement ledger (on_hand, reserved) and the open "
        "reservations. Exits 1 when drift is found; --fix repairs it with a ledger row per repair."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="Machine-readable report on stdout."
        )
        parser.add_argument("--fix", action="store_true", help="Repair what can be repaired.")

    def handle(self, *args, **options):
        def progress(done: int, total: int) -> None:
            if total >= 1000:
                self.stderr.write(f"checked {done}/{total} stock levels")

        drifts = stock_drift(progress=progress)
        repairs = {d.stock_level_id: stock_drift_fix(d) for d in drifts} if options["fix"] else {}
        if options["json"]:
            report = [{**d.as_dict(), "repairs": repairs.get(d.stock_level_id, [])} for d in drifts]
            self.stdout.write(
                json.dumps({"drift": report, "fixed": bool(options["fix"])}, indent=2)
            )
        elif not drifts:
            self.stdout.write(
                self.style.SUCCESS(
                    "Stock is clean: every level matches its ledger and reservations."
                )
            )
        else:
            for d in drifts:
                self.stdout.write(
                    f"{d.sku} @ {d.warehouse}: {', '.join(d.kinds)} "
                    f"(on_hand {d.on_hand} vs ledger {d.ledger_on_hand}; reserved {d.reserved} vs "
                    f"reservations {d.open_reservations} vs ledger {d.ledger_reserved})"
                )
                for repair in repairs.get(d.stock_level_id, []):
                    self.stdout.write(f"    fixed: {repair}")
            self.stdout.write(f"{len(drifts)} stock level(s) drifted.")
        unrepaired = [
            d
            for d in drifts
            if not options["fix"] or repairs[d.stock_level_id][0].startswith("left alone")
        ]
        if unrepaired:
            sys.exit(1)
