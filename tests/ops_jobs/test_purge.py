"""Purging old idempotency records and delivered webhook logs (with their attempts);
pending and failed deliveries stay, and two runners at once purge each row once."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.retention import records_purge
from jobs.tasks import purge_old_records
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from orders.models import IdempotencyRecord
from tests.factories import UserFactory
from tests.ops_jobs.support import ago, command, concurrently


def idempotency(hours_old: float, n: int = 1) -> list[IdempotencyRecord]:
    customer = UserFactory()
    records = [
        IdempotencyRecord.objects.create(customer=customer, key=f"k-{i}", fingerprint="f")
        for i in range(n)
    ]
    IdempotencyRecord.objects.filter(pk__in=[r.pk for r in records]).update(
        created_at=ago(hours=hours_old)
    )
    return records


def delivery(status: str, days_old: float, attempts: int = 2) -> WebhookDelivery:
    subscription, _ = WebhookSubscription.objects.get_or_create(
        url="https://hooks.example.com/orderly", defaults={"secret": "s", "events": ["*"]}
    )
    when = ago(days=days_old)
    item = WebhookDelivery.objects.create(
        subscription=subscription,
        event="order.shipped",
        payload={"order_number": "US-000001"},
        dedupe_key=f"{status}-{days_old}-{WebhookDelivery.objects.count()}",
        status=status,
        attempts=attempts,
        delivered_at=when if status == "delivered" else None,
    )
    WebhookDelivery.objects.filter(pk=item.pk).update(created_at=when)
    for _ in range(attempts):
        WebhookAttempt.objects.create(delivery=item, url=subscription.url, status_code=200, at=when)
    return item


@pytest.fixture
def old_and_new(db):
    rows = {
        "old_keys": idempotency(hours_old=49, n=3),
        "new_keys": idempotency(hours_old=47, n=2),
        "old_delivered": [delivery("delivered", 31), delivery("delivered", 45)],
        "new_delivered": [delivery("delivered", 29)],
        "old_failed": [delivery("failed", 60)],
        "old_pending": [delivery("pending", 60)],
    }
    return {name: {row.pk for row in items} for name, items in rows.items()}


def test_purges_only_what_is_past_retention(old_and_new):
    result = records_purge()

    assert result.as_dict() == {
        "idempotency_records": 3,
        "webhook_deliveries": 2,
        "webhook_attempts": 4,
    }
    assert set(IdempotencyRecord.objects.values_list("pk", flat=True)) == old_and_new["new_keys"]
    kept = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert (
        kept
        == old_and_new["new_delivered"] | old_and_new["old_failed"] | old_and_new["old_pending"]
    )
    assert not WebhookAttempt.objects.filter(delivery_id__in=old_and_new["old_delivered"]).exists()
    assert WebhookAttempt.objects.count() == 6  # the kept deliveries' logs

    assert records_purge().as_dict() == {
        "idempotency_records": 0,
        "webhook_deliveries": 0,
        "webhook_attempts": 0,
    }


def test_retention_settings_are_honoured(old_and_new, settings):
    settings.IDEMPOTENCY_RETENTION_HOURS = 1
    settings.WEBHOOK_LOG_RETENTION_DAYS = 90
    result = records_purge()
    assert (result.idempotency_records, result.webhook_deliveries) == (5, 0)


def test_command_and_task(old_and_new):
    code, out = command("purge_old_records", "--json")
    assert code == 0 and json.loads(out)["idempotency_records"] == 3
    assert "purged 0 idempotency record(s)" in command("purge_old_records")[1]
    assert purge_old_records.apply().get()["webhook_deliveries"] == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_purges_split_the_work():
    idempotency(hours_old=72, n=40)
    idempotency(hours_old=1, n=3)
    old = [delivery("delivered", 40, attempts=1) for _ in range(30)]
    fresh = delivery("delivered", 1)
    now = timezone.now() + timedelta(seconds=1)

    results = concurrently(lambda: records_purge(now=now, batch=7))

    assert sum(r.idempotency_records for r in results) == 40
    assert sum(r.webhook_deliveries for r in results) == len(old)
    assert sum(r.webhook_attempts for r in results) == len(old)
    assert IdempotencyRecord.objects.count() == 3
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert WebhookAttempt.objects.filter(delivery=fresh).count() == 2
