"""core.broker: kombu's Redis transport with one client per connection pool."""

import pytest
from django.conf import settings

from config.celery import app
from core.broker import Transport

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="needs CELERY_BROKER_URL=redis://... (scripts/test.sh sets it)",
)


def test_redis_urls_use_the_transport():
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)
        assert conn.transport.driver_type == "redis"  # what Celery's Redis-only code checks


def test_one_client_per_pool_and_a_new_one_for_a_new_pool():
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert first.connection_pool is channel.pool

        channel._disconnect_pools()  # what a fork or a reconnection does
        second = channel._create_client()
        assert second is not first
        assert second.connection_pool is channel.pool
        assert second.ping()

        # The consuming (asynchronous) client is kombu's own, on its own pool.
        assert channel._create_client(asynchronous=True) is not second


def test_messages_go_through_and_are_acknowledged():
    with app.connection_for_write() as conn:
        queue = conn.SimpleQueue("orderly-tests-core-broker")
        try:
            queue.clear()
            for n in range(3):
                queue.put({"n": n})
            received = []
            for _ in range(3):
                message = queue.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
            assert received == [0, 1, 2]
            client = conn.default_channel._create_client()
            assert client.llen("orderly-tests-core-broker") == 0
            # Acknowledged: nothing is left among the unacked messages to restore.
            assert client.hlen(conn.default_channel.unacked_key) == 0
        finally:
            queue.clear()
            queue.close()


def test_a_closed_channel_refuses_with_an_error_kombu_survives():
    # An ack queued on the worker's event loop can run after the connection to
    # Redis was lost and its channel closed; kombu logs a connection error and goes on.
    conn = app.connection_for_write()
    channel = conn.channel()
    errors = conn.connection_errors
    conn.close()
    with pytest.raises(errors):
        channel._create_client()
