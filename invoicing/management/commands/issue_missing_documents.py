from django.core.management.base import BaseCommand

from invoicing.services.sweeping import documents_issue_missing


class Command(BaseCommand):
    help = "Issue any missing invoice (per capture) or credit note (per succeeded refund)."

    def handle(self, *args, **options):
        issued = documents_issue_missing()
        self.stdout.write(f"Issued {issued} document(s).")
