from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        # Register the tasks in every process (web too), so lower apps can
        # enqueue them by name.
        from . import tasks  # noqa: F401
