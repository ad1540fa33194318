from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Scheduled jobs and reconciliation"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (beat sends these by name; register them everywhere)
