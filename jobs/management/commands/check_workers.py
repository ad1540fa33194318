"""`manage.py check_workers`: exit 1 when a queue tasks are routed to has no
running worker (orders would wait in `pending`), 2 when the workers cannot be
asked. For monitoring; /health/ reports the same as information."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core import health

# A worker busy with a task answers between tasks: wait longer than /health/ does.
WAIT_SECONDS = 3.0


class Command(BaseCommand):
    help = "Exit 1 when a routed Celery queue has no consumer."

    def handle(self, *args, **options):
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("eager mode: tasks run in the web process; no worker needed")
            return
        consumed = health.consumed_queues(timeout=WAIT_SECONDS)
        if consumed is None:
            self.stderr.write("the broker could not be asked which queues are consumed")
            raise SystemExit(2)
        missing = [name for name in health.queue_names() if name not in consumed]
        if missing:
            self.stderr.write(
                f"no worker consumes: {', '.join(missing)} "
                f"(consumed: {', '.join(sorted(consumed)) or 'none'})"
            )
            raise SystemExit(1)
        self.stdout.write(f"every routed queue has a consumer: {', '.join(sorted(consumed))}")
