"""Notification and webhook writes: what the orders, fulfilment and returns apps call.

Callers queue inside their own transaction; the sending runs in a Celery task enqueued
on commit, so a rolled-back order never emails anyone. Each send or POST is one
attempt; the row keeps the retry schedule (`next_attempt_at`) and the task re-enqueues
itself to meet it. `notifications_retry_due` is the beat job's safety net for tasks
that were lost (worker killed, broker flushed).
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import timedelta

from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.mail import get_connection
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.utils import timezone

from core.sql import columns, for_update, insert_unless_taken, select_models, write_together
from operations.services import error_record

from . import webhooks
from .backends import InvalidRecipient, dispatch, normalize_recipient
from .conf import notification_backoff, setting, webhook_backoff
from .errors import (
    InvalidNotification,
    InvalidWebhookEvent,
    NotificationNotFound,
    TransitionNotAllowed,
    WebhookDeliveryNotFound,
)
from .models import (
    EVENT_PATTERN,
    Channel,
    DeliveryStatus,
    Notification,
    NotificationStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from .rendering import check_template, render_message

logger = logging.getLogger(__name__)

KEY_LENGTH = 255
# Rows the safety net re-enqueued are not picked up again for this long, so a backlog
# in the broker does not pile up one more copy of each task per beat run.
RETRY_LEASE = timedelta(minutes=5)
RETRY_BATCH = 500
# A drain task is queued (see `_drain_soon`) while this cache key exists. It
# expires on its own, so a lost drain task holds nothing up for longer than this.
DRAIN_FLAG = "notifications:drain-queued"
DRAIN_FLAG_SECONDS = 30
DRAIN_LIMIT = 500  # rows per drain task; a longer queue goes on in a new one


# --- notifications ---------------------------------------------------------------------------


def notification_queue(
    *,
    recipient: str,
    channel: str,
    template: str,
    context: dict,
    reference: str = "",
    dedupe_key: str | None = None,
) -> Notification:
    """Create a queued Notification and enqueue its sending on commit. Idempotent on
    `dedupe_key`: a second call returns the first row and enqueues nothing.

    A caller's mistake (unknown channel or template, context not a dict) raises
    InvalidNotification. A bad recipient does not: it is customer data, and must not
    roll back the caller's order, so the row is stored `failed` for ops to see."""
    _check_request(channel, template, context, dedupe_key)
    dedupe_key = dedupe_key or None
    notification = Notification(
        channel=channel,
        template=template,
        context=context,
        reference=(reference or "")[:100],
        dedupe_key=dedupe_key,
        next_attempt_at=timezone.now(),  # due now: the safety net finds it if the task is lost
    )
    try:
        notification.recipient = normalize_recipient(channel, recipient)
    except InvalidRecipient as exc:
        notification.recipient = (recipient or "")[:254]
        notification.give_up(error=str(exc))
    # Inserted first, looked up only when the key is taken (a retried service,
    # or a concurrent twin), in a way that breaks neither the caller's transaction.
    if not insert_unless_taken(notification, unique=["dedupe_key"]):
        return Notification.objects.get(dedupe_key=dedupe_key)
    if notification.status == NotificationStatus.QUEUED:
        transaction.on_commit(_drain_soon)
    return notification


def notification_send(*, notification_id: int) -> Notification:
    """One attempt. Sent → stays sent (never twice); failure → backoff or `failed`."""
    # The row lock is held across the backend call on purpose: a duplicate task (broker
    # redelivery, the safety net) waits for it, then finds the row sent. Only this app
    # writes notification rows, so the wait holds up nobody else.
    with transaction.atomic():
        notification = _lock_notification(notification_id)
        if notification.status != NotificationStatus.QUEUED:
            return notification
        _attempt_send(notification)
    _record_given_up(notification)
    return notification


def notifications_drain(*, limit: int = DRAIN_LIMIT) -> list[Notification]:
    """Send the notifications still waiting for their first attempt, oldest
    first, over one e-mail session. Each row is locked (rows another sender
    holds are skipped), sent and its outcome committed before the next, so a
    crash repeats at most one message. Retries are not the drain's: a failed
    first attempt is left to its own retry chain (`next_attempt_at`), which the
    caller schedules from the rows returned. After `limit` rows it hands the
    rest to a fresh drain."""
    _drain_flag_clear()  # from here on, a new notification asks for another drain
    attempted: list[Notification] = []
    session = _EmailSession()
    try:
        while len(attempted) < limit:
            with transaction.atomic():
                notification = _next_first_attempt()
                if notification is None:
                    return attempted
                _attempt_send(notification, connection=session.connection_for(notification))
                if notification.status != NotificationStatus.SENT:
                    session.close()  # a server that failed a send is not trusted with the next
            _record_given_up(notification)
            attempted.append(notification)
    finally:
        session.close()
    _drain_soon(delay=0)  # more than one run's worth: the rest in a new task, at once
    return attempted


# First attempts are due at once: no clock comparison, so a web host whose clock
# runs ahead delays nothing. Plain SQL: it runs once per message drained, and the
# ORM's compile cost more than the statement.
_NEXT_FIRST_ATTEMPT = (
    f"SELECT {columns(Notification, 'n')} FROM {Notification._meta.db_table} n "
    "WHERE status = %s AND attempts = 0 "
    "ORDER BY id LIMIT 1"
)


def _next_first_attempt() -> Notification | None:
    """The oldest notification waiting for its first attempt, locked; rows
    another sender holds are skipped."""
    sql = _NEXT_FIRST_ATTEMPT + for_update(skip_locked=True)
    found = select_models(sql, [NotificationStatus.QUEUED], Notification)
    return next(iter(found), None)


class _EmailSession:
    """One e-mail connection shared by consecutive sends, opened on first use.
    If it cannot be opened, each message opens its own (and records its own
    failure)."""

    def __init__(self) -> None:
        self._connection = None

    def connection_for(self, notification: Notification):
        if notification.channel != Channel.EMAIL:
            return None
        if self._connection is None:
            connection = get_connection(fail_silently=False)
            try:
                connection.open()
            except Exception as exc:
                logger.warning("could not open an e-mail session: %s", exc)
                return None
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            # The message is out (or failed): closing trouble must not undo its row.
            with suppress(Exception):
                self._connection.close()
            self._connection = None


def _attempt_send(notification: Notification, *, connection=None) -> None:
    """Render and send one locked, queued notification, and save the outcome."""
    now = timezone.now()
    try:
        normalize_recipient(notification.channel, notification.recipient)
        message = render_message(notification.template, notification.channel, notification.context)
    except InvalidRecipient as exc:
        notification.give_up(error=str(exc))
    except Exception as exc:  # a broken template fails the same way every time
        notification.give_up(error=f"Cannot render the template: {type(exc).__name__}: {exc}")
    else:
        try:
            dispatch(notification, message, connection=connection)
        except Exception as exc:  # SMTP, sockets, SMS SDKs: every failure is retried
            logger.warning("Notification %s not sent: %s", notification.pk, exc)
            notification.record_failure(
                error=f"{type(exc).__name__}: {exc}", at=now, backoff=notification_backoff()
            )
        else:
            notification.mark_sent(at=now)
    # Only the columns an attempt changes, in one plain statement (the row is
    # locked); django-fsm's record of the saved status is kept for later saves.
    write_together(updates=[([notification], SEND_OUTCOME_FIELDS)])


# What an attempt changes on its row (the transitions in models.py).
SEND_OUTCOME_FIELDS = [
    "status",
    "attempts",
    "last_attempt_at",
    "sent_at",
    "last_error",
    "next_attempt_at",
    "updated_at",
]


def _record_given_up(notification: Notification) -> None:
    if notification.status == NotificationStatus.FAILED:
        # Given up: ops see it among the processing errors until someone retries it.
        error_record(
            category="notification",
            severity="error",
            step="notification_send",
            reference=notification.reference or f"notification:{notification.pk}",
            message=notification.last_error[:1000],
            details={"notification": notification.pk, "template": notification.template},
        )


def notification_retry(*, notification_id: int, actor) -> Notification:
    """failed → queued, with a fresh budget of attempts (the admin's "Retry")."""
    with transaction.atomic():
        notification = _lock_notification(notification_id)
        if notification.status != NotificationStatus.FAILED:
            raise TransitionNotAllowed(
                f"Only failed notifications can be retried; this one is {notification.status}."
            )
        notification.requeue(by=_user(actor), at=timezone.now())
        notification.save()
        _send_task().delay_on_commit(notification.pk)
    logger.info("Notification %s retried by %s", notification.pk, actor)
    return notification


# --- webhooks --------------------------------------------------------------------------------


_ACTIVE_SUBSCRIPTIONS = (
    f"SELECT {columns(WebhookSubscription, 's')} FROM {WebhookSubscription._meta.db_table} s "
    "WHERE active = %s ORDER BY id"
)


def webhook_publish(*, event: str, payload: dict, dedupe_key: str) -> list[WebhookDelivery]:
    """One delivery per active subscription listening to `event`, each POSTed by a task
    enqueued on commit. Idempotent on (subscription, dedupe_key): a repeat returns the
    existing deliveries and enqueues nothing."""
    if not isinstance(event, str) or not EVENT_PATTERN.match(event):
        raise InvalidWebhookEvent("event", "INVALID_EVENT", f"{event!r} is not like order.shipped.")
    if not dedupe_key or len(dedupe_key) > KEY_LENGTH:
        raise InvalidWebhookEvent(
            "dedupe_key", "INVALID_DEDUPE_KEY", f"Use 1 to {KEY_LENGTH} characters."
        )
    if not isinstance(payload, dict):
        raise InvalidWebhookEvent("payload", "INVALID_PAYLOAD", "The payload must be an object.")
    # Filtered in Python: JSON containment lookups are not available on SQLite, and
    # there are only ever a handful of subscriptions. Plain SQL: every order
    # change that notifies reads them.
    subscriptions = [
        subscription
        for subscription in select_models(_ACTIVE_SUBSCRIPTIONS, [True], WebhookSubscription)
        if subscription.listens_to(event)
    ]
    deliveries = []
    for subscription in subscriptions:
        delivery, created = _delivery_once(subscription, event, payload, dedupe_key)
        if created:
            _deliver_task().delay_on_commit(delivery.pk)
        deliveries.append(delivery)
    return deliveries


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery:
    """One signed POST. 2xx → delivered; anything else → backoff, or `failed` at the cap."""
    # As for notifications, the lock is held across the POST (at most the timeout, 5 s
    # by default) so that two workers never POST the same delivery at the same time.
    with transaction.atomic():
        delivery = _lock_delivery(delivery_id)
        if delivery.status != DeliveryStatus.PENDING:
            return delivery
        subscription = WebhookSubscription.objects.get(pk=delivery.subscription_id)
        if not subscription.active:
            delivery.give_up(error="The subscription is inactive.")
        elif not webhooks.is_http_url(subscription.url):
            delivery.give_up(error="Only http and https URLs can receive webhooks.")
        else:
            _attempt(delivery, subscription)
        delivery.save()
    return delivery


def webhook_replay(*, delivery_id: int, actor) -> WebhookDelivery:
    """failed or delivered → pending, and a new POST enqueued (the admin's "Replay")."""
    with transaction.atomic():
        delivery = _lock_delivery(delivery_id)
        if delivery.status == DeliveryStatus.PENDING:
            raise TransitionNotAllowed("This delivery is still pending; it is retried on its own.")
        if not WebhookSubscription.objects.filter(
            pk=delivery.subscription_id, active=True
        ).exists():
            raise TransitionNotAllowed("Its subscription is inactive; activate it first.")
        delivery.replay(by=_user(actor), at=timezone.now())
        delivery.save()
        _deliver_task().delay_on_commit(delivery.pk)
    logger.info("Webhook delivery %s replayed by %s", delivery.pk, actor)
    return delivery


# --- the safety net --------------------------------------------------------------------------


def notifications_retry_due(*, now=None) -> int:
    """Re-enqueue queued notifications and pending deliveries whose next attempt is
    overdue (by more than NOTIFY_RETRY_GRACE_SECONDS). Returns how many were enqueued."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=int(setting("NOTIFY_RETRY_GRACE_SECONDS")))
    with transaction.atomic():
        notification_ids = _claim_due(
            Notification.objects.filter(status=NotificationStatus.QUEUED), cutoff, now
        )
        delivery_ids = _claim_due(
            WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING), cutoff, now
        )
        for pk in notification_ids:
            _send_task().delay_on_commit(pk)
        for pk in delivery_ids:
            _deliver_task().delay_on_commit(pk)
    return len(notification_ids) + len(delivery_ids)


# --- helpers ---------------------------------------------------------------------------------


def _check_request(channel: str, template: str, context, dedupe_key: str | None) -> None:
    if channel not in Channel.values:
        raise InvalidNotification(
            "channel", "UNKNOWN_CHANNEL", f"Channel {channel!r} is not one of {Channel.values}."
        )
    try:
        check_template(template, channel)
    except TemplateDoesNotExist:
        raise InvalidNotification(
            "template", "UNKNOWN_TEMPLATE", f"No {channel} template named {template!r}."
        ) from None
    if not isinstance(context, dict):
        raise InvalidNotification("context", "INVALID_CONTEXT", "The context must be a dict.")
    if dedupe_key and len(dedupe_key) > KEY_LENGTH:
        raise InvalidNotification(
            "dedupe_key", "INVALID_DEDUPE_KEY", f"Use at most {KEY_LENGTH} characters."
        )


def _attempt(delivery: WebhookDelivery, subscription: WebhookSubscription) -> None:
    body = webhooks.body_for(delivery)
    started = timezone.now()
    result = webhooks.post(
        subscription.url, body, webhooks.headers_for(delivery, subscription.secret, body)
    )
    WebhookAttempt.objects.create(
        delivery=delivery,
        url=subscription.url,
        status_code=result.status_code,
        response_excerpt=result.excerpt,
        error=result.error,
        duration_ms=result.duration_ms,
        at=started,
    )
    now = timezone.now()
    if result.ok:
        delivery.mark_delivered(status_code=result.status_code, at=now)
    else:
        logger.warning("Webhook delivery %s failed: %s", delivery.pk, result.error)
        delivery.record_failure(
            status_code=result.status_code, error=result.error, at=now, backoff=webhook_backoff()
        )


def _delivery_once(
    subscription: WebhookSubscription, event: str, payload: dict, dedupe_key: str
) -> tuple[WebhookDelivery, bool]:
    delivery = WebhookDelivery(
        subscription=subscription,
        event=event,
        payload=payload,
        dedupe_key=dedupe_key,
        next_attempt_at=timezone.now(),
    )
    if insert_unless_taken(delivery, unique=["subscription", "dedupe_key"]):
        return delivery, True
    return WebhookDelivery.objects.get(subscription=subscription, dedupe_key=dedupe_key), False


def _claim_due(queryset, cutoff, now) -> list[int]:
    # skip_locked: a row locked right now is being sent by a worker; leave it alone.
    ids = list(
        queryset.filter(next_attempt_at__lte=cutoff)
        .select_for_update(skip_locked=True)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:RETRY_BATCH]
    )
    queryset.model.objects.filter(pk__in=ids).update(next_attempt_at=now + RETRY_LEASE)
    return ids


def _lock_notification(notification_id: int) -> Notification:
    try:
        return Notification.objects.select_for_update().get(pk=notification_id)
    except Notification.DoesNotExist:
        raise NotificationNotFound() from None


def _lock_delivery(delivery_id: int) -> WebhookDelivery:
    try:
        return WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
    except WebhookDelivery.DoesNotExist:
        raise WebhookDeliveryNotFound() from None


def _user(actor):
    # Workers and scripts pass a name or None; only a saved user is stored.
    return actor if getattr(actor, "pk", None) else None


def _drain_soon(delay: float | None = None) -> None:
    """After a commit that queued notifications: make sure a drain task is on its
    way. One queued drain is enough, since it sends every first attempt waiting
    when it runs, so under load many orders' e-mails share one task and one SMTP
    session instead of one task each. The flag lives in the cache (shared by every
    process); without it, or with the broker down, the drain is simply enqueued
    (or left to the beat's safety net). It starts NOTIFY_DRAIN_DELAY_SECONDS
    later, so that under load one task sends many orders' e-mails."""
    first = True
    if _cache_is_shared():
        try:
            first = cache.add(DRAIN_FLAG, True, timeout=DRAIN_FLAG_SECONDS)
        except Exception:  # the cache is down: one task per commit, as without the flag
            logger.warning("cache unavailable; enqueuing a notifications drain", exc_info=True)
    if first:
        try:
            if delay is None:
                delay = float(setting("NOTIFY_DRAIN_DELAY_SECONDS"))
            _drain_task().apply_async(countdown=delay)
        except Exception as exc:
            _drain_flag_clear()  # the next commit tries again
            logger.error("broker unavailable; notifications left for the safety net: %s", exc)


def _cache_is_shared() -> bool:
    """A per-process cache (the quick start's) cannot tell a web process that a
    worker's drain has started: there, every commit enqueues its own drain."""
    return not isinstance(caches["default"], LocMemCache | DummyCache)


def _drain_flag_clear() -> None:
    if not _cache_is_shared():
        return
    try:
        cache.delete(DRAIN_FLAG)
    except Exception:
        logger.warning("cache unavailable; could not clear the drain flag", exc_info=True)


def _drain_task():
    from .tasks import notifications_drain  # tasks import services; import late

    return notifications_drain


def _send_task():
    from .tasks import notification_send  # tasks import services; import late

    return notification_send


def _deliver_task():
    from .tasks import webhook_deliver

    return webhook_deliver


def webhook_logs_purge(*, now=None, batch: int = 1000) -> tuple[int, int]:
    """Delete outbound webhook deliveries delivered more than
    WEBHOOK_LOG_RETENTION_DAYS ago, with their attempt logs; pending and failed
    ones stay whatever their age (ops may still replay them). Batches are
    claimed `FOR UPDATE SKIP LOCKED`, so two runners split the work and a
    delivery being replayed (locked by `webhook_replay`) is left alone.
    Returns (deliveries, attempts) deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=setting("WEBHOOK_LOG_RETENTION_DAYS"))
    deliveries = attempts = 0
    while True:
        with transaction.atomic():
            ids = list(
                WebhookDelivery.objects.filter(
                    status=DeliveryStatus.DELIVERED, delivered_at__lt=cutoff
                )
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return deliveries, attempts
            attempts += WebhookAttempt.objects.filter(delivery_id__in=ids).delete()[0]
            deliveries += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
