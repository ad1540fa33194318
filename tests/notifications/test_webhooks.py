"""Order events are POSTed, signed, to each subscribed integrator; failures are retried
with backoff, every POST is logged, and a delivery can be replayed by hand. The
receiver is a real HTTP server on 127.0.0.1."""

import hashlib
import hmac
import json
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import tasks
from notifications.errors import InvalidWebhookEvent, TransitionNotAllowed
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from notifications.services import (
    notifications_retry_due,
    webhook_deliver,
    webhook_publish,
    webhook_replay,
)
from notifications.webhooks import verify_signature

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_9f8e7d"
PAYLOAD = {"number": "US-000123", "status": "shipped", "total": "53.99", "currency": "USD"}


@pytest.fixture
def subscription(receiver):
    return WebhookSubscription.objects.create(
        url=receiver.url, secret=SECRET, events=["order.shipped", "order.confirmed"]
    )


def _publish(capture, event="order.shipped", key="order:US-000123:shipped"):
    with capture(execute=True):
        return webhook_publish(event=event, payload=PAYLOAD, dedupe_key=key)


def test_event_is_posted_signed_with_the_subscription_secret(
    receiver, subscription, django_capture_on_commit_callbacks
):
    [delivery] = _publish(django_capture_on_commit_callbacks)

    [request] = receiver.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Orderly-Signature"] == expected
    assert verify_signature(SECRET, request.body, request.headers["X-Orderly-Signature"])
    assert not verify_signature("another-secret", request.body, expected)
    assert request.path == "/hooks/orderly"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Orderly-Event"] == "order.shipped"
    assert request.headers["X-Orderly-Delivery"] == str(delivery.pk)
    body = json.loads(request.body)
    assert body["event"] == "order.shipped"
    assert body["id"] == delivery.pk
    assert body["data"] == PAYLOAD
    assert body["created_at"].startswith(str(timezone.now().year))

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    [attempt] = delivery.log.all()
    assert attempt.status_code == 200
    assert attempt.response_excerpt == '{"received": true}'


def test_a_500_is_retried_with_backoff_then_fails_and_replay_delivers(
    receiver, subscription, staff_user, django_capture_on_commit_callbacks
):
    receiver.default_status = 500
    [delivery] = _publish(django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == 8  # WEBHOOK_MAX_ATTEMPTS
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"
    assert len(receiver.requests) == 8
    log = list(delivery.log.all())
    assert [attempt.status_code for attempt in log] == [500] * 8
    assert log[0].response_excerpt == '{"error": "boom"}'
    # The same bytes every time: integrators can deduplicate.
    assert len({request.body for request in receiver.requests}) == 1

    receiver.default_status = 204
    with django_capture_on_commit_callbacks(execute=True):
        webhook_replay(delivery_id=delivery.pk, actor=staff_user)

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert (delivery.attempts, delivery.last_status_code) == (1, 204)
    assert delivery.replayed_by == staff_user
    assert delivery.log.count() == 9
    replayed = receiver.requests[-1]
    assert replayed.headers["X-Orderly-Delivery"] == str(delivery.pk)
    assert verify_signature(SECRET, replayed.body, replayed.headers["X-Orderly-Signature"])


def test_backoff_doubles_between_attempts(receiver, subscription, monkeypatch, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    receiver.default_status = 503
    monkeypatch.setattr(tasks, "_again", lambda *args: None)
    [delivery] = webhook_publish(event="order.shipped", payload=PAYLOAD, dedupe_key="k")

    gaps = []
    for _ in range(4):
        tasks.webhook_deliver(delivery.pk)
        delivery.refresh_from_db()
        if delivery.next_attempt_at:
            gaps.append((delivery.next_attempt_at - delivery.log.last().at).total_seconds())

    assert [round(gap) for gap in gaps] == [30, 60, 120]
    assert delivery.status == "failed"


def test_redirects_are_not_followed_and_count_as_failures(
    receiver, subscription, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.default_status = 302
    [delivery] = _publish(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_is_logged_with_its_error(
    settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    WebhookSubscription.objects.create(
        url=f"http://127.0.0.1:{port}/hook", secret=SECRET, events=["*"]
    )
    [delivery] = _publish(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.last_status_code is None
    assert "ConnectionError" in delivery.last_error
    assert [attempt.status_code for attempt in delivery.log.all()] == [None, None]


def test_only_active_subscriptions_listening_to_the_event_get_it(
    receiver, subscription, django_capture_on_commit_callbacks
):
    everything = WebhookSubscription.objects.create(url=receiver.url, secret="s2", events=["*"])
    WebhookSubscription.objects.create(url=receiver.url, secret="s3", events=["order.cancelled"])
    WebhookSubscription.objects.create(url=receiver.url, secret="s4", events=["*"], active=False)

    deliveries = _publish(django_capture_on_commit_callbacks)

    assert {d.subscription_id for d in deliveries} == {subscription.pk, everything.pk}
    assert len(receiver.requests) == 2


def test_publishing_twice_with_the_same_key_delivers_once(
    receiver, subscription, django_capture_on_commit_callbacks
):
    first = _publish(django_capture_on_commit_callbacks)
    second = _publish(django_capture_on_commit_callbacks)
    assert [d.pk for d in second] == [d.pk for d in first]
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.count() == 1
    _publish(django_capture_on_commit_callbacks, key="order:US-000123:shipped:2")
    assert len(receiver.requests) == 2


def test_only_http_urls_are_posted_to(django_capture_on_commit_callbacks):
    WebhookSubscription.objects.create(url="file:///etc/passwd", secret=SECRET, events=["*"])
    [delivery] = _publish(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert "http" in delivery.last_error
    assert not WebhookAttempt.objects.exists()


def test_a_deactivated_subscription_stops_its_pending_deliveries(receiver, subscription):
    [delivery] = webhook_publish(event="order.shipped", payload=PAYLOAD, dedupe_key="k")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(active=False)
    assert webhook_deliver(delivery_id=delivery.pk).status == "failed"
    assert receiver.requests == []
    with pytest.raises(TransitionNotAllowed):
        webhook_replay(delivery_id=delivery.pk, actor=None)


def test_a_pending_delivery_cannot_be_replayed(subscription, staff_user):
    [delivery] = webhook_publish(event="order.shipped", payload=PAYLOAD, dedupe_key="k")
    with pytest.raises(TransitionNotAllowed):
        webhook_replay(delivery_id=delivery.pk, actor=staff_user)


def test_overdue_deliveries_are_picked_up_by_the_safety_net(
    receiver, subscription, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():  # enqueue lost
        [delivery] = webhook_publish(event="order.shipped", payload=PAYLOAD, dedupe_key="k")
    later = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_retry_due(now=later) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event": "Order Shipped", "payload": {}, "dedupe_key": "k"}, "event"),
        ({"event": "order.shipped", "payload": {}, "dedupe_key": ""}, "dedupe_key"),
        ({"event": "order.shipped", "payload": [], "dedupe_key": "k"}, "payload"),
    ],
)
def test_bad_publish_calls_are_refused(kwargs, field):
    with pytest.raises(InvalidWebhookEvent) as error:
        webhook_publish(**kwargs)
    assert error.value.details[0]["field"] == field
