"""A bare `celery -A config worker` consumes every queue a task is routed to,
and /health/ (and `manage.py check_workers`) say when one has no consumer."""

import pytest
from django.conf import settings
from django.core.management import call_command

from config.celery import app


def test_every_task_is_routed_to_a_declared_queue():
    declared = set(app.amqp.queues)
    assert declared == set(settings.CELERY_QUEUES)
    ours = [name for name in app.tasks if not name.startswith("celery.")]
    assert ours, "the project's tasks should be registered"
    for name in ours:
        route = app.amqp.router.route({}, name)
        assert route["queue"].name in declared, (name, route["queue"].name)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_health_names_no_missing_consumer_while_a_bare_worker_runs(celery_worker, client, settings):
    from django.core.cache import cache

    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete("health:queues_without_consumer")
    body = client.get("/health/").json()
    assert body["status"] == "ok"
    assert body["queues_without_consumer"] == []
    call_command("check_workers")  # exits 0


def test_health_and_check_workers_name_queues_nobody_consumes(db, client, settings, monkeypatch):
    from django.core.cache import cache

    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.delete("health:queues_without_consumer")
    monkeypatch.setattr("core.health.consumed_queues", lambda timeout=0: {"maintenance"})
    monkeypatch.setattr("core.health._check_broker", lambda: "ok")
    body = client.get("/health/").json()
    assert body["status"] == "ok"  # information, not a failed check
    assert body["queues_without_consumer"] == [
        "confirmation",
        "fulfilment",
        "refunds",
        "notifications",
    ]
    with pytest.raises(SystemExit) as exit_:
        call_command("check_workers")
    assert exit_.value.code == 1
