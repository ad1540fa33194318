"""The Celery app: `celery -A config worker`, `celery -A config beat`."""

import logging
import os

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from kombu.exceptions import OperationalError as BrokerError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)


class OrderlyTask(Task):
    """`delay_on_commit` that never turns a committed change into an error
    response: if the broker is down after the commit, the message is logged
    and recorded, and the beat sweeps (stuck orders, due notifications) pick
    the work up once the broker is back."""

    def delay_on_commit(self, *args, **kwargs):
        transaction.on_commit(lambda: self._enqueue_committed(args, kwargs))

    def _enqueue_committed(self, args, kwargs):
        try:
            self.delay(*args, **kwargs)
        except BrokerError as exc:
            logger.error("broker unavailable; %s%r left for the sweep: %s", self.name, args, exc)
            from operations.services import error_record

            error_record(
                category="external_api",
                step=f"enqueue:{self.name}",
                severity="warning",
                message=f"Broker unavailable; the sweep will retry: {exc}",
                reference=f"{self.name}:{','.join(map(str, args))}"[:120],
            )


# How long a step keeps retrying transient trouble before giving up (the beat
# sweeps and reconciliation pick up what is still undone after that).
RETRY_WINDOW_SECONDS = 600


def retry_policy(*transient: type[Exception]) -> dict:
    """Task options shared by the workers' steps: retry `transient` errors (a
    gateway timeout, say) and a database that went away, with exponential
    backoff; ack late so a killed worker's message is delivered again. Every
    step is idempotent, so a retry or a redelivery changes nothing twice.

    A retry waits out its countdown in the worker, unacknowledged; on Redis a
    message unacked longer than the visibility timeout is handed out again, so
    the backoff is capped at half of it, with as many retries as fill the window."""
    from django.conf import settings

    cap = max(1, settings.CELERY_VISIBILITY_TIMEOUT // 2)
    return {
        "autoretry_for": (*transient, OperationalError, InterfaceError),
        "retry_backoff": 2,
        "retry_backoff_max": cap,
        "retry_jitter": True,
        "max_retries": 3 + RETRY_WINDOW_SECONDS // cap,
        "acks_late": True,
    }


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(task=None, **kwargs):
    """Around each task, what Django does around each request: drop a
    connection that broke or outlived CONN_MAX_AGE, keep a healthy one (checked
    on next use, CONN_HEALTH_CHECKS). Celery's own Django fixup would instead
    close every connection around every task, unless CELERY_DB_REUSE_MAX is set
    (settings set it): a new PostgreSQL backend per task costs more CPU, in the
    worker and the database, than most tasks. Eager tasks run inside the
    caller's transaction and are left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


app = Celery("orderly", task_cls=OrderlyTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect  # the threads pool: the worker's one process
@worker_process_init.connect  # the prefork pool: each child
def _freeze_startup_objects(**kwargs):
    """The worker has loaded Django and every task's module: leave them out of
    the garbage collector's full collections (core.startup)."""
    from core.startup import freeze_startup_objects

    freeze_startup_objects()
