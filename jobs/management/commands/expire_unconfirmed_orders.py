from django.core.management.base import BaseCommand

from orders.services.maintenance import orders_expire_unconfirmed


class Command(BaseCommand):
    help = "Cancel pending orders whose stock reservation expired (the beat job, by hand)."

    def handle(self, *args, **options):
        numbers = orders_expire_unconfirmed()
        self.stdout.write(f"cancelled {len(numbers)} order(s): {', '.join(numbers) or '-'}")
