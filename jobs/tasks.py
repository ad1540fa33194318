"""Thin Celery entry points of the scheduled jobs (CELERY_BEAT_SCHEDULE).

Each job is idempotent and safe to run twice at once, and is also a manage.py
command of the same name (jobs/management/commands/). The order sweeps
(expire_unconfirmed_orders, requeue_stuck_orders) stay tasks of orders: they are
part of the order pipeline's delivery guarantee, not periodic housekeeping."""

from celery import shared_task

from .authorization_expiry import CAPTURED, FLAGGED, authorizations_settle_expiring
from .retention import records_purge
from .stock_report import low_stock_report_run


@shared_task(name="jobs.tasks.settle_expiring_authorizations", acks_late=True)
def settle_expiring_authorizations() -> dict:
    outcomes = authorizations_settle_expiring()
    return {
        "looked_at": len(outcomes),
        "captured": sum(1 for o in outcomes if o.action == CAPTURED),
        "flagged": sum(1 for o in outcomes if o.action == FLAGGED),
    }


@shared_task(name="jobs.tasks.low_stock_report", acks_late=True)
def low_stock_report() -> dict:
    run = low_stock_report_run()
    return {"low": len(run.items), "drafted": run.drafted, "warehouses": sorted(run.emailed)}


@shared_task(name="jobs.tasks.purge_old_records", acks_late=True)
def purge_old_records() -> dict:
    return records_purge().as_dict()
