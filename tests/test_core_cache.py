"""core.cache: Django's Redis cache with one client per connection pool."""

from __future__ import annotations

from django.conf import settings

from core.cache import DJANGO_BACKEND, RedisCache, with_shared_clients


def test_the_setting_swaps_only_djangos_redis_backend():
    caches = {
        "default": {"BACKEND": DJANGO_BACKEND, "LOCATION": "redis://127.0.0.1:6379/1"},
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    swapped = with_shared_clients(caches)
    assert swapped["default"] == {**caches["default"], "BACKEND": "core.cache.RedisCache"}
    assert swapped["local"] == caches["local"]


def test_one_client_serves_every_call_and_the_cache_still_works():
    cache = RedisCache(settings.CELERY_BROKER_URL, {"KEY_PREFIX": "orderly-tests-core-cache"})
    try:
        assert cache._cache.get_client() is cache._cache.get_client(write=True)
        assert cache.add("k", 1, timeout=30) and not cache.add("k", 2, timeout=30)
        assert cache.incr("k") == 2
        assert cache.get_many(["k", "missing"]) == {"k": 2}
    finally:
        cache.delete("k")
    assert cache.get("k") is None
