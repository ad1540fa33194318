"""One real Celery worker over Redis for the whole session (a second embedded
worker in one process trips celery#4511)."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import connection

from config.celery import app

# Tasks the embedded worker (a thread of this process) is running right now.
_running: set[str] = set()


@task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs):
    if not getattr(task.request, "is_eager", False):
        _running.add(task_id)


@task_postrun.connect
def _task_finished(task_id=None, **kwargs):
    _running.discard(task_id)


def _queued() -> int:
    """Messages waiting in the routed queues (Redis lists; a missing list is empty)."""
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        return sum(client.llen(queue) for queue in settings.CELERY_QUEUES)


def _wait_until_idle(timeout: float = 30.0, quiet: float = 0.3) -> None:
    """Let the worker finish what a test set off (e-mails, documents, syncs)
    before the test database is flushed under it: a task still writing would
    deadlock with the flush's TRUNCATE."""
    deadline = time.monotonic() + timeout
    idle_since = None
    while time.monotonic() < deadline:
        if _running or _queued():
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= quiet:
            return
        time.sleep(0.05)


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://... (scripts/test.sh sets it)")
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        for queue in settings.CELERY_QUEUES:  # leftovers of an earlier, killed run
            conn.default_channel.queue_purge(queue)
    # No queue list: like a bare `celery -A config worker`, it consumes the
    # queues the settings declare.
    with (
        django_db_blocker.unblock(),
        start_worker(app, perform_ping_check=False, pool="solo"),
    ):
        yield app
    app.conf.task_always_eager = True
    with django_db_blocker.unblock():
        _close_worker_connections()


def _close_worker_connections() -> None:
    """The worker thread keeps its database connection between tasks, as
    workers do (CONN_MAX_AGE); it is gone now, so end that session, or the test
    database could not be dropped at the end of the run."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def celery_worker(celery_worker_session, transactional_db):
    yield celery_worker_session
    _wait_until_idle()
