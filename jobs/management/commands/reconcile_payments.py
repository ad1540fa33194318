import json
import sys

from django.core.management.base import BaseCommand

from jobs.payment_reconciliation import KINDS, payment_drift, payment_drift_fix, stale_minutes


class Command(BaseCommand):
    help = (
        "Check every order's payment against the order, what shipped and what was refunded, "
        "and find payments stuck half-way. Exits 1 when drift is found; --fix repairs what is "
        "safe (the order's payment_status mirror) with an audit row per repair."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="Machine-readable report on stdout."
        )
        parser.add_argument("--fix", action="store_true", help="Repair what is safe to repair.")
        parser.add_argument(
            "--stale-minutes",
            type=int,
            default=None,
            help="Work unfinished after this long is stuck (default PAYMENT_STUCK_MINUTES).",
        )

    def handle(self, *args, **options):
        def progress(done: int, total: int) -> None:
            if total >= 1000:
                self.stderr.write(f"checked {done}/{total} orders")

        minutes = options["stale_minutes"]
        drifts = payment_drift(minutes=minutes, progress=progress)
        repairs = {d.order_id: payment_drift_fix(d) for d in drifts} if options["fix"] else {}
        # What is left once the repairs are counted: a repaired (or meanwhile
        # resolved) fixable finding no longer makes the run fail.
        left = {
            d.order_id: [k for k in d.kinds if not (options["fix"] and k in d.fixable)]
            for d in drifts
        }
        if options["json"]:
            report = [
                {
                    **d.as_dict(),
                    "repairs": repairs.get(d.order_id, []),
                    "unrepaired": left[d.order_id],
                }
                for d in drifts
            ]
            payload = {
                "drift": report,
                "fixed": bool(options["fix"]),
                "stale_minutes": stale_minutes() if minutes is None else minutes,
            }
            self.stdout.write(json.dumps(payload, indent=2))
        elif not drifts:
            self.stdout.write(
                self.style.SUCCESS("Payments are clean: every order agrees with its payment.")
            )
        else:
            for d in drifts:
                self.stdout.write(
                    f"{d.order} ({d.order_status}, payment {d.payment_id or '-'} "
                    f"{d.payment_status or '-'}): {', '.join(d.kinds)}"
                )
                for kind, seen in d.findings.items():
                    self.stdout.write(f"    {kind}: {seen}  [{KINDS[kind]}]")
                for repair in repairs.get(d.order_id, []):
                    self.stdout.write(f"    fixed: {repair}")
            unrepaired = sum(1 for kinds in left.values() if kinds)
            self.stdout.write(
                f"{len(drifts)} order(s) drifted; {unrepaired} need staff."
                if options["fix"]
                else f"{len(drifts)} order(s) drifted."
            )
        if any(left.values()):
            sys.exit(1)
