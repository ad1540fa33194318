"""Purging what is kept only for a while (a beat job, and `manage.py purge_old_records`):

- idempotency records of order placement older than IDEMPOTENCY_RETENTION_HOURS
  (a client retrying later than that places a new order);
- outbound webhook deliveries that were delivered more than
  WEBHOOK_LOG_RETENTION_DAYS ago, with their attempt logs. Pending and failed
  deliveries stay, whatever their age: ops may still replay them.

Rows are claimed in batches with `SELECT ... FOR UPDATE SKIP LOCKED` and deleted in
the same transaction, so two runners at once split the work instead of waiting on
(or deadlocking over) the same rows, and a delivery being replayed right now (its
row locked by `webhook_replay`) is left alone.

The webhook part deletes notifications' rows directly: the notifications app has no
purge service yet (see `webhook_logs_purge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

from .models import IdempotencyRecord

BATCH = 1000
DEFAULT_WEBHOOK_LOG_RETENTION_DAYS = 30


@dataclass
class PurgeResult:
    idempotency_records: int = 0
    webhook_deliveries: int = 0
    webhook_attempts: int = 0

    def as_dict(self) -> dict:
        return {
            "idempotency_records": self.idempotency_records,
            "webhook_deliveries": self.webhook_deliveries,
            "webhook_attempts": self.webhook_attempts,
        }


def _claim(queryset, batch: int) -> list[int]:
    return list(
        queryset.select_for_update(skip_locked=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )


def idempotency_records_purge(*, now: datetime | None = None, batch: int = BATCH) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS)
    purged = 0
    while True:
        with transaction.atomic():
            ids = _claim(IdempotencyRecord.objects.filter(created_at__lt=cutoff), batch)
            if not ids:
                return purged
            purged += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]


def webhook_logs_purge(*, now: datetime | None = None, batch: int = BATCH) -> tuple[int, int]:
    """Delivered deliveries older than the retention, and their attempts.
    Returns (deliveries, attempts) deleted. Nothing else points at a delivery,
    so whole deliveries go. Meant to move into `notifications.services` once
    that app has a purge service of its own."""
    now = now or timezone.now()
    days = getattr(settings, "WEBHOOK_LOG_RETENTION_DAYS", DEFAULT_WEBHOOK_LOG_RETENTION_DAYS)
    cutoff = now - timedelta(days=days)
    deliveries = attempts = 0
    while True:
        with transaction.atomic():
            ids = _claim(
                WebhookDelivery.objects.filter(
                    status=DeliveryStatus.DELIVERED, delivered_at__lt=cutoff
                ),
                batch,
            )
            if not ids:
                return deliveries, attempts
            attempts += WebhookAttempt.objects.filter(delivery_id__in=ids).delete()[0]
            deliveries += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]


def records_purge(*, now: datetime | None = None, batch: int = BATCH) -> PurgeResult:
    """The beat job: both purges."""
    result = PurgeResult(idempotency_records=idempotency_records_purge(now=now, batch=batch))
    result.webhook_deliveries, result.webhook_attempts = webhook_logs_purge(now=now, batch=batch)
    return result
