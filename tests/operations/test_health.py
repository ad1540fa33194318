"""/health/ reports the messages waiting in each Celery queue when the broker is
Redis, and the depth probe can neither fail nor slow the answer."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import redis
from kombu import Connection, Exchange, Queue

from core import health

REDIS_URL = "redis://127.0.0.1:6379/15"
QUEUES = ["confirmation", "fulfilment", "refunds", "notifications", "maintenance"]
SEP = "\x06\x16"  # kombu's separator before a priority step


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def redis_broker(settings, redis_client):
    """Settings of a deployment with Redis as broker. Keys get a prefix of their
    own, so a real worker on the same Redis database never sees the test's messages."""
    prefix = f"health-test-{uuid.uuid4().hex[:8]}:"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": prefix,
    }
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*"))
    if keys:
        redis_client.delete(*keys)


def test_eager_mode_keeps_the_contract_shape(db, api):
    response = api.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_reports_queue_depth_per_queue_with_redis(db, api, redis_broker, redis_client):
    prefix = redis_broker
    redis_client.lpush(f"{prefix}confirmation", *["{}"] * 3)
    redis_client.lpush(f"{prefix}refunds", "{}")
    redis_client.lpush(f"{prefix}refunds{SEP}9", "{}", "{}")  # a high-priority message

    response = api.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}
    assert body["queues"] == {
        "confirmation": 3,
        "fulfilment": 0,
        "refunds": 3,
        "notifications": 0,
        "maintenance": 0,
    }


def test_counts_real_kombu_messages_of_every_routed_queue(db, api, settings, redis_broker):
    """Messages published by kombu itself (as Celery does), at two priorities,
    on a queue that only the task routes name."""
    name = f"extra-{uuid.uuid4().hex[:6]}"
    settings.CELERY_TASK_ROUTES = {**settings.CELERY_TASK_ROUTES, "x.tasks.*": {"queue": name}}
    queue = Queue(name, Exchange(name), routing_key=name, max_priority=9)
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    with Connection(REDIS_URL, transport_options=options) as conn:
        producer = conn.Producer()
        for priority in (0, 9):
            producer.publish(
                {"n": priority},
                exchange=queue.exchange,
                routing_key=name,
                declare=[queue],
                priority=priority,
            )
        try:
            body = api.get("/health/").json()
        finally:
            queue(conn.default_channel).delete()
    assert body["queues"][name] == 2
    assert set(QUEUES) <= set(body["queues"])


def test_a_hanging_redis_neither_fails_nor_slows_health(db, api, redis_broker, monkeypatch):
    # A socket that accepts connections and never answers.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    port = silent.getsockname()[1]
    monkeypatch.setattr(health, "_redis_broker_url", lambda: f"redis://127.0.0.1:{port}/0")
    try:
        started = time.monotonic()
        response = api.get("/health/")
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]) == ("ok", {"database": "ok", "broker": "ok"})
    assert "queues" not in body  # the depth probe gave up
    assert elapsed < 2.5  # the broker check itself takes a moment; the probe gives up in ~1 s


def test_no_queue_depths_when_the_broker_is_down(db, api, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = api.get("/health/")
    assert response.status_code == 503
    assert "queues" not in response.json()
