"""A failing backend is retried with exponential backoff up to a cap, then the
notification is `failed`, visible, and can be retried by hand."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from notifications import services, tasks
from notifications.errors import TransitionNotAllowed
from notifications.models import Notification
from notifications.services import (
    RETRY_LEASE,
    notification_queue,
    notification_retry,
    notifications_retry_due,
)

pytestmark = pytest.mark.django_db


def _queue(context, **kwargs) -> Notification:
    return notification_queue(
        recipient="ana@example.com",
        channel="email",
        template="order_confirmed",
        context=context,
        **kwargs,
    )


def test_backoff_doubles_until_the_cap_then_fails(flaky_email, order_context, monkeypatch):
    scheduled = []  # what the task asks Celery for, instead of running it
    monkeypatch.setattr(tasks, "_again", lambda task, pk, at: scheduled.append(at))
    notification = _queue(order_context)  # its on-commit enqueue never runs here

    gaps, planned = [], []
    for attempt in range(1, 6):
        assert tasks.notification_send(notification.pk) == ("queued" if attempt < 5 else "failed")
        notification.refresh_from_db()
        assert notification.attempts == attempt
        assert "SMTP server refused the connection" in notification.last_error
        if notification.next_attempt_at:
            planned.append(notification.next_attempt_at)
            gaps.append((notification.next_attempt_at - notification.last_attempt_at).seconds)

    assert gaps == [30, 60, 120, 240]  # NOTIFY_RETRY_BASE_SECONDS, ×2 each attempt
    # The task re-enqueued itself for each planned time, and not after the 5th failure.
    assert scheduled == planned
    assert notification.status == "failed"
    assert notification.next_attempt_at is None
    assert len(flaky_email.calls) == 5
    assert mail.outbox == []
    # A failed notification is left alone by later deliveries of the task.
    assert tasks.notification_send(notification.pk) == "failed"
    assert len(flaky_email.calls) == 5


def test_fails_after_the_cap_then_succeeds_when_retried_by_hand(
    flaky_email, order_context, staff_user, django_capture_on_commit_callbacks
):
    # Eager Celery runs each re-enqueued attempt at once, so the chain plays out here.
    with django_capture_on_commit_callbacks(execute=True):
        notification = _queue(order_context)
    notification.refresh_from_db()
    assert notification.status == "failed"
    assert notification.attempts == 5
    assert notification.last_error.startswith("ConnectionRefusedError")
    assert mail.outbox == []

    flaky_email.failing = False
    with django_capture_on_commit_callbacks(execute=True):
        notification_retry(notification_id=notification.pk, actor=staff_user)

    notification.refresh_from_db()
    assert notification.status == "sent"
    assert notification.attempts == 1
    assert notification.retried_by == staff_user
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Your order US-000123 is confirmed"


def test_settings_change_the_policy(flaky_email, order_context, settings, monkeypatch):
    settings.NOTIFY_RETRY_BASE_SECONDS = 5
    settings.NOTIFY_MAX_ATTEMPTS = 2
    monkeypatch.setattr(tasks, "_again", lambda *args: None)
    notification = _queue(order_context)
    tasks.notification_send(notification.pk)
    notification.refresh_from_db()
    assert notification.next_attempt_at - notification.last_attempt_at == timedelta(seconds=5)
    tasks.notification_send(notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 2)


def test_only_failed_notifications_can_be_retried(order_context, staff_user):
    notification = _queue(order_context)
    with pytest.raises(TransitionNotAllowed):
        notification_retry(notification_id=notification.pk, actor=staff_user)


def test_the_safety_net_re_enqueues_overdue_rows_once(
    order_context, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as lost:  # the task never reached a worker
        notification = _queue(order_context)
    assert len(lost) == 1
    later = timezone.now() + timedelta(minutes=10)

    with django_capture_on_commit_callbacks() as enqueued:
        assert notifications_retry_due(now=timezone.now()) == 0  # not overdue yet
        assert notifications_retry_due(now=later) == 1
        assert notifications_retry_due(now=later) == 0  # leased: no pile-up per beat run
    notification.refresh_from_db()
    assert notification.next_attempt_at == later + RETRY_LEASE

    for callback in enqueued:
        callback()
    notification.refresh_from_db()
    assert notification.status == "sent"
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_with_the_same_id_send_once(flaky_email, order_context):
    flaky_email.reset(failing=False, delay=0.3)  # slow SMTP: both workers overlap
    notification = Notification.objects.create(
        recipient="ana@example.com",
        channel="email",
        template="order_confirmed",
        context=order_context,
    )
    start = threading.Barrier(2)
    results = []

    def worker():
        try:
            start.wait()
            results.append(services.notification_send(notification_id=notification.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert results == ["sent", "sent"]
    assert len(flaky_email.calls) == 1
    assert len(mail.outbox) == 1
    notification.refresh_from_db()
    assert notification.attempts == 1
