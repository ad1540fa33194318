import json

from django.core.management.base import BaseCommand

from jobs.retention import records_purge


class Command(BaseCommand):
    help = (
        "Delete idempotency records older than IDEMPOTENCY_RETENTION_HOURS and delivered "
        "webhook deliveries (with their attempts) older than WEBHOOK_LOG_RETENTION_DAYS "
        "(the beat job, by hand)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="Machine-readable report on stdout."
        )

    def handle(self, *args, **options):
        result = records_purge()
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
            return
        self.stdout.write(
            f"purged {result.idempotency_records} idempotency record(s), "
            f"{result.webhook_deliveries} webhook delivery(ies) and "
            f"{result.webhook_attempts} attempt(s)"
        )
