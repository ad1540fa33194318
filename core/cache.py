"""Django's Redis cache, with one Redis client per connection pool.

Django's client builds a new `redis.Redis` for every cache call, and each one
copies redis-py's table of ~500 response callbacks: a fraction of a
millisecond on every API request, which reads and writes its throttle history.
A client is thread-safe (connections come from its pool), so one per pool does."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

DJANGO_BACKEND = "django.core.cache.backends.redis.RedisCache"


class _OneClientPerPool(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _OneClientPerPool


def with_shared_clients(caches: dict) -> dict:
    """`caches` (the CACHES setting) with Django's Redis backend swapped for this one."""
    return {
        name: {**config, "BACKEND": f"{__name__}.RedisCache"}
        if config.get("BACKEND") == DJANGO_BACKEND
        else config
        for name, config in caches.items()
    }
