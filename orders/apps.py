from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # Register the tasks in every process (web too): payments enqueues
        # `orders.tasks.order_sync_payment` by name and looks it up here.
        from . import tasks  # noqa: F401
