import json

from django.core.management.base import BaseCommand

from jobs.authorization_expiry import authorizations_settle_expiring


class Command(BaseCommand):
    help = (
        "Payments whose card authorization lapses within AUTHORIZATION_EXPIRY_WARN_HOURS: "
        "capture what shipped, or flag the order for staff (the beat job, by hand)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only say what would be done.")
        parser.add_argument(
            "--json", action="store_true", help="Machine-readable report on stdout."
        )

    def handle(self, *args, **options):
        outcomes = authorizations_settle_expiring(dry_run=options["dry_run"])
        if options["json"]:
            report = {"dry_run": options["dry_run"], "payments": [o.as_dict() for o in outcomes]}
            self.stdout.write(json.dumps(report, indent=2))
            return
        if not outcomes:
            self.stdout.write(self.style.SUCCESS("No authorization is about to lapse."))
            return
        for o in outcomes:
            amount = f" {o.amount} {o.currency}" if o.amount else ""
            self.stdout.write(
                f"{o.order} (payment {o.payment_id}, {o.gateway}): {o.action}{amount}"
            )
            self.stdout.write(f"    {o.reason}")
        self.stdout.write(f"{len(outcomes)} payment(s) looked at.")
