"""One real Celery worker over Redis for the whole session (a second embedded
worker in one process trips celery#4511)."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from config.celery import app


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


@pytest.fixture
def celery_worker(celery_worker_session, transactional_db):
    return celery_worker_session
