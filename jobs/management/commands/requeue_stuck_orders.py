from django.core.management.base import BaseCommand

from orders.services.maintenance import orders_requeue_stuck


class Command(BaseCommand):
    help = "Re-enqueue confirmation of orders stuck in pending (the beat job, by hand)."

    def handle(self, *args, **options):
        numbers = orders_requeue_stuck()
        self.stdout.write(f"re-enqueued {len(numbers)} order(s): {', '.join(numbers) or '-'}")
