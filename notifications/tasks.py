"""Thin Celery entry points: ids in, one service call. The retry schedule is on the
row (`next_attempt_at`, written by the service); a task whose attempt failed
re-enqueues itself with a countdown to meet it."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from . import services
from .errors import NotificationNotFound, WebhookDeliveryNotFound
from .models import DeliveryStatus, NotificationStatus


@shared_task(name="notifications.tasks.notification_send", acks_late=True)
def notification_send(notification_id: int) -> str:
    try:
        notification = services.notification_send(notification_id=notification_id)
    except NotificationNotFound:
        return "missing"
    # Still queued after an attempt means it failed and has a next attempt scheduled.
    if notification.status == NotificationStatus.QUEUED:
        _again(notification_send, notification_id, notification.next_attempt_at)
    return notification.status


@shared_task(name="notifications.tasks.notifications_drain", acks_late=True)
def notifications_drain() -> int:
    attempted = services.notifications_drain()
    for notification in attempted:
        if notification.status == NotificationStatus.QUEUED:  # failed, tried again later
            _again(notification_send, notification.pk, notification.next_attempt_at)
    return len(attempted)


@shared_task(name="notifications.tasks.webhook_deliver", acks_late=True)
def webhook_deliver(delivery_id: int) -> str:
    try:
        delivery = services.webhook_deliver(delivery_id=delivery_id)
    except WebhookDeliveryNotFound:
        return "missing"
    if delivery.status == DeliveryStatus.PENDING:
        _again(webhook_deliver, delivery_id, delivery.next_attempt_at)
    return delivery.status


@shared_task(name="notifications.tasks.notifications_retry_due", acks_late=True)
def notifications_retry_due() -> int:
    return services.notifications_retry_due()


def _again(task, object_id: int, at: datetime | None) -> None:
    countdown = max((at - timezone.now()).total_seconds(), 0) if at else 0
    task.apply_async((object_id,), countdown=countdown)
