"""Queued notifications are sent by a drain task: one task sends every first
attempt over one e-mail session, committing each row before the next; while one
is queued no commit queues another; retries stay with each row's own chain."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.mail.backends.locmem import EmailBackend as LocmemEmailBackend
from django.utils import timezone

from notifications import services, tasks
from notifications.models import Notification
from notifications.services import DRAIN_FLAG, notification_queue
from notifications.sms import LocmemSmsBackend

pytestmark = pytest.mark.django_db


class CountingEmailBackend(LocmemEmailBackend):
    """Django's locmem backend, counting the connections opened."""

    opened = 0

    def open(self):
        CountingEmailBackend.opened += 1
        return True


@pytest.fixture
def counting_email(settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_drain.CountingEmailBackend"
    CountingEmailBackend.opened = 0
    return CountingEmailBackend


@pytest.fixture
def shared_cache(settings):
    """A cache every process shares (Redis, as deployed), so the drain flag is used."""
    from django.conf import settings as django_settings

    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": django_settings.CELERY_BROKER_URL,
            "KEY_PREFIX": "orderly-tests-drain",
        }
    }
    cache.delete(DRAIN_FLAG)
    yield
    cache.delete(DRAIN_FLAG)


@pytest.fixture
def drain_tasks(monkeypatch):
    """The drain task's publishes, recorded instead of sent."""
    published = Published()

    class Task:
        @staticmethod
        def apply_async(countdown=None):
            published.append("drain")
            published.countdowns.append(countdown)

    monkeypatch.setattr(services, "_drain_task", lambda: Task)
    return published


class Published(list):
    """Drains published, with the countdown each was given."""

    def __init__(self):
        super().__init__()
        self.countdowns = []


def _queue(recipient="ana@example.com", channel="email", **kwargs) -> Notification:
    return notification_queue(
        recipient=recipient,
        channel=channel,
        template="order_shipped",
        context={"order_number": "US-000123", "customer_name": "Ana", "items": []},
        **kwargs,
    )


def test_one_drain_sends_every_due_notification_over_one_connection(counting_email):
    emails = [_queue(f"buyer{n}@example.com", dedupe_key=f"k{n}") for n in range(3)]
    sms = _queue("+14155550100", channel="sms", dedupe_key="sms")

    assert tasks.notifications_drain() == 4

    assert {n.status for n in Notification.objects.all()} == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox) == [n.recipient for n in emails]
    assert [m.to for m in LocmemSmsBackend.outbox] == [sms.recipient]
    assert counting_email.opened == 1  # one session for the batch, not one per message


def test_a_long_queue_is_handed_to_a_fresh_drain(counting_email, drain_tasks):
    for n in range(5):
        _queue(f"buyer{n}@example.com", dedupe_key=f"k{n}")

    attempted = services.notifications_drain(limit=2)

    assert len(attempted) == 2 and len(mail.outbox) == 2
    assert drain_tasks == ["drain"]  # the other three go to the next drain
    assert drain_tasks.countdowns == [0]  # at once: they are already late
    assert Notification.objects.filter(status="queued").count() == 3


def test_rows_in_their_retry_chain_are_left_to_it(counting_email):
    retrying = _queue(dedupe_key="retrying")
    Notification.objects.filter(pk=retrying.pk).update(
        attempts=1, next_attempt_at=timezone.now() - timedelta(minutes=5)
    )

    assert tasks.notifications_drain() == 0
    retrying.refresh_from_db()
    assert (retrying.status, retrying.attempts) == ("queued", 1)


def test_a_first_attempt_is_sent_whatever_the_clocks_say(counting_email):
    # The web host's clock ahead of the worker's: the row looks due in the future.
    ahead = _queue(dedupe_key="ahead")
    Notification.objects.filter(pk=ahead.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=2)
    )
    assert tasks.notifications_drain() == 1
    ahead.refresh_from_db()
    assert ahead.status == "sent"


def test_a_failed_send_starts_one_retry_chain(flaky_email, monkeypatch):
    scheduled = []
    monkeypatch.setattr(tasks, "_again", lambda task, pk, at: scheduled.append((task, pk, at)))
    notification = _queue()

    assert tasks.notifications_drain() == 1
    assert tasks.notifications_drain() == 0  # a later drain leaves the row to its chain

    notification.refresh_from_db()
    assert notification.status == "queued"
    assert notification.attempts == 1
    assert "SMTP server refused the connection" in notification.last_error
    assert scheduled == [(tasks.notification_send, notification.pk, notification.next_attempt_at)]


class Crash(BaseException):
    """A worker killed mid-drain (not an error the drain handles)."""


class CrashingEmailBackend(LocmemEmailBackend):
    sent = 0

    def send_messages(self, messages):
        CrashingEmailBackend.sent += 1
        if CrashingEmailBackend.sent == 3:
            raise Crash
        return super().send_messages(messages)


def test_each_send_is_committed_before_the_next(settings, transactional_db, drain_tasks):
    settings.EMAIL_BACKEND = "tests.notifications.test_drain.CrashingEmailBackend"
    CrashingEmailBackend.sent = 0
    for n in range(4):
        _queue(f"buyer{n}@example.com", dedupe_key=f"k{n}")

    with pytest.raises(Crash):
        services.notifications_drain()

    # The two messages out before the crash stay sent; only the third is tried again.
    statuses = list(Notification.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["sent", "sent", "queued", "queued"]


class FailOnceEmailBackend(CountingEmailBackend):
    failed = False

    def send_messages(self, messages):
        if not FailOnceEmailBackend.failed:
            FailOnceEmailBackend.failed = True
            raise ConnectionResetError("the server hung up")
        return super().send_messages(messages)


def test_a_session_that_failed_a_send_is_not_reused(settings, monkeypatch):
    settings.EMAIL_BACKEND = "tests.notifications.test_drain.FailOnceEmailBackend"
    FailOnceEmailBackend.failed = False
    CountingEmailBackend.opened = 0
    monkeypatch.setattr(tasks, "_again", lambda task, pk, at: None)
    for n in range(3):
        _queue(f"buyer{n}@example.com", dedupe_key=f"k{n}")

    tasks.notifications_drain()

    statuses = list(Notification.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == ["queued", "sent", "sent"]
    assert CountingEmailBackend.opened == 2  # a new session after the failure


def test_commits_share_one_queued_drain(shared_cache, drain_tasks, counting_email):
    for n in range(3):
        # Each notification in its own committed transaction (its on-commit hook runs).
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(services.transaction, "on_commit", lambda hook: hook())
            _queue(f"buyer{n}@example.com", dedupe_key=f"k{n}")
    assert drain_tasks == ["drain"]  # the first commit queued it; the others found it queued
    # Queued a moment later, so that the e-mails of the commits meanwhile share it.
    assert drain_tasks.countdowns == [1.0]

    services.notifications_drain()  # the drain starts: a later commit needs a new one
    assert len(mail.outbox) == 3
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services.transaction, "on_commit", lambda hook: hook())
        _queue("late@example.com", dedupe_key="late")
    assert drain_tasks == ["drain", "drain"]


def test_a_drain_that_cannot_be_queued_leaves_the_next_commit_to_try(shared_cache, monkeypatch):
    published = []

    class BrokerDown:
        @staticmethod
        def apply_async(countdown=None):
            published.append("drain")
            raise ConnectionError("broker unreachable")

    monkeypatch.setattr(services, "_drain_task", lambda: BrokerDown)
    monkeypatch.setattr(services.transaction, "on_commit", lambda hook: hook())

    _queue(dedupe_key="a")
    _queue(dedupe_key="b")

    assert published == ["drain", "drain"]  # the flag was cleared after the failure
    assert cache.get(DRAIN_FLAG) is None


def test_without_a_shared_cache_every_commit_queues_a_drain(drain_tasks, monkeypatch):
    # The quick start's per-process cache cannot tell a web process that a worker's drain began.
    monkeypatch.setattr(services.transaction, "on_commit", lambda hook: hook())
    _queue(dedupe_key="a")
    _queue(dedupe_key="b")
    assert drain_tasks == ["drain", "drain"]


@pytest.mark.parametrize("outcome", ["sent", "retry", "failed", "given_up"])
def test_an_attempt_saves_every_field_its_transition_changes(outcome):
    """Attempts save only SEND_OUTCOME_FIELDS: a transition that starts
    changing another field must be added there, or the change is lost."""
    notification = Notification.objects.get(pk=_queue().pk)
    if outcome == "failed":
        notification.attempts = 99  # the next failure is the last
    before = {f.attname: getattr(notification, f.attname) for f in Notification._meta.fields}
    now = timezone.now()
    if outcome == "sent":
        notification.mark_sent(at=now)
    elif outcome == "given_up":
        notification.give_up(error="bad address")
    else:
        notification.record_failure(error="down", at=now, backoff=services.notification_backoff())
    notification.updated_at = now
    changed = {name for name, value in before.items() if getattr(notification, name) != value}
    assert changed and changed <= set(services.SEND_OUTCOME_FIELDS), changed
