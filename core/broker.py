"""The Redis broker transport, with one client per connection pool.

kombu's Redis channel builds a new `redis.Redis` for every publish and every
acknowledgement (`Channel.conn_or_acquire`), and each new client copies
redis-py's table of some 500 response callbacks: about a fifth of a
millisecond per message, twice per task (the publish in the web process, the
ack in the worker). A client holds no connection of its own (it borrows one
from the pool per command, and every pipeline is a new object), so one client
per pool serves every thread. A new pool (after a fork or a reconnection)
gets a new client. Selected by `CELERY_BROKER_TRANSPORT` for redis:// URLs;
the asynchronous client kombu consumes with is its own, cached already.
"""

from __future__ import annotations

from kombu.transport import redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(redis.Channel):
    _shared_client = None

    def _create_client(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            # Closed with its connection (Redis went away): an ack still queued on
            # the worker's event loop lands here. kombu's own code failed with an
            # AttributeError that stopped the worker; a connection error is logged
            # ("Couldn't ack") and the worker reconnects. The message stays unacked
            # in Redis and is handed out again after the visibility timeout, and
            # every task is idempotent.
            raise RedisConnectionError("the broker channel is closed")
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        client = self._shared_client
        if client is None or client.connection_pool is not pool:
            # Two threads racing here each build one; either serves.
            client = self._shared_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
