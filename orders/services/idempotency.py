"""Idempotency-Key handling for order placement, scoped per customer.

The record is inserted in the same transaction as the order. A second request
racing on the same key blocks on the unique index until the first commits,
then replays its stored response; if the first rolled back, the second runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import IdempotencyKeyReused, ValidationFailed, detail

from ..models import IdempotencyRecord

MAX_KEY_LENGTH = 255


def request_fingerprint(*, method: str, path: str, body) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> tuple[int, dict, bool]:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return record.response_status, record.response_body, True


def idempotent_response(
    *, customer, key: str | None, fingerprint: str, produce: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """Run `produce` once per (customer, key). Returns (status, body, replayed)."""
    if key is None:
        # Still one transaction, so the response shows the order as placed.
        with transaction.atomic():
            status, body = produce()
        return status, body, False
    if not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
        raise ValidationFailed(
            details=[detail("Idempotency-Key", "INVALID", f"Use 1 to {MAX_KEY_LENGTH} characters.")]
        )
    existing = IdempotencyRecord.objects.filter(customer=customer, key=key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    customer=customer, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            # Lost the race: the winner has committed by now (we waited on its row).
            return _replay(IdempotencyRecord.objects.get(customer=customer, key=key), fingerprint)
        status, body = produce()
        record.response_status, record.response_body = status, body
        record.save(update_fields=["response_status", "response_body"])
        return status, body, False


def idempotency_records_purge(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete records older than IDEMPOTENCY_RETENTION_HOURS (a client retrying
    later than that places a new order). Batches are claimed `FOR UPDATE SKIP
    LOCKED`, so two runners at once split the work. Returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS)
    purged = 0
    while True:
        with transaction.atomic():
            ids = list(
                IdempotencyRecord.objects.filter(created_at__lt=cutoff)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return purged
            purged += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
