"""Purging what is kept only for a while (a beat job, and `manage.py purge_old_records`).
Each app purges its own rows; this module only runs them in turn:

- orders: idempotency records older than IDEMPOTENCY_RETENTION_HOURS;
- notifications: outbound webhook deliveries delivered more than
  WEBHOOK_LOG_RETENTION_DAYS ago, with their attempt logs.

Both claim rows in batches `FOR UPDATE SKIP LOCKED`, so two runners at once
split the work instead of waiting on (or deadlocking over) the same rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from notifications.services import webhook_logs_purge
from orders.services.idempotency import idempotency_records_purge

BATCH = 1000


@dataclass
class PurgeResult:
    idempotency_records: int = 0
    webhook_deliveries: int = 0
    webhook_attempts: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def records_purge(*, now: datetime | None = None, batch: int = BATCH) -> PurgeResult:
    """The beat job: every app's purge."""
    result = PurgeResult(idempotency_records=idempotency_records_purge(now=now, batch=batch))
    result.webhook_deliveries, result.webhook_attempts = webhook_logs_purge(now=now, batch=batch)
    return result
