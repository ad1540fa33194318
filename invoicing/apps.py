from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "invoicing"
    verbose_name = "Invoices and credit notes"

    def ready(self) -> None:
        # Register the tasks in every process (web too), so payments can enqueue them by name.
        from . import tasks  # noqa: F401
