"""Every beat entry names a task a worker actually has (CELERY_IMPORTS loads the
operations jobs, which autodiscovery of `<app>.tasks` would miss)."""

from django.conf import settings

from config.celery import app


def test_every_beat_entry_is_a_registered_task():
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    for name in ("settle-expiring-authorizations", "low-stock-report", "purge-old-records"):
        assert name in schedule
    missing = {entry["task"] for entry in schedule.values()} - set(app.tasks)
    assert not missing
