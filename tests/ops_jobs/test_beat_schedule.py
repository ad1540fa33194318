"""Every beat entry names a task a worker actually has. The scheduled jobs live
in `jobs/tasks.py`, which Celery's autodiscovery finds because `jobs` is an
installed app (no CELERY_IMPORTS list to keep in step)."""

from django.conf import settings

from config.celery import app


def test_every_beat_entry_is_a_registered_task():
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    for name in ("settle-expiring-authorizations", "low-stock-report", "purge-old-records"):
        assert name in schedule
    missing = {entry["task"] for entry in schedule.values()} - set(app.tasks)
    assert not missing


def test_the_jobs_are_found_by_autodiscovery():
    assert not getattr(settings, "CELERY_IMPORTS", None)
    app.loader.import_default_modules()
    for job in ("settle_expiring_authorizations", "low_stock_report", "purge_old_records"):
        assert f"jobs.tasks.{job}" in app.tasks
