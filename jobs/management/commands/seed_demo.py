from django.core.management.base import BaseCommand

from jobs.demo_data import DEMO_PASSWORD, demo_data_seed


class Command(BaseCommand):
    help = (
        "Create the API.md demo data (markets, warehouses, products, stock, WELCOME10, demo users)."
    )

    def handle(self, *args, **options):
        demo_data_seed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready. Logins (password {DEMO_PASSWORD!r}): admin (superuser), "
                "reviewer (staff, Reviewer group), demo (customer)."
            )
        )
