"""core.throttling: DRF's sliding-window rate limits, in Redis by one atomic call."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from rest_framework.views import APIView

from core.throttling import UserRateThrottle
from tests.factories import UserFactory

pytestmark = pytest.mark.skipif(
    not django_settings.CELERY_BROKER_URL.startswith("redis://"),
    reason="needs a Redis (scripts/test.sh sets CELERY_BROKER_URL=redis://...)",
)


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": django_settings.CELERY_BROKER_URL,
            "KEY_PREFIX": "orderly-tests-throttling",
        }
    }
    cache = caches["default"]
    _forget_windows(cache)
    yield cache
    _forget_windows(cache)


def _forget_windows(cache) -> None:
    # Not cache.clear(): that is FLUSHDB, and this Redis database is the tests' broker.
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter("orderly-tests-throttling:*"):
        client.delete(key)


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})


def _throttle(now: float) -> UserRateThrottle:
    throttle = UserRateThrottle()
    throttle.timer = lambda: now
    return throttle


def _request(pk: int = 1):
    user = SimpleNamespace(pk=pk, is_authenticated=True)
    return SimpleNamespace(user=user, META={"REMOTE_ADDR": "127.0.0.1"})


def test_the_window_slides_as_drfs_does(redis_cache, three_a_minute):
    request = _request()
    assert [_throttle(t).allow_request(request, None) for t in (0.0, 1.0, 2.0)] == [True] * 3
    refused = _throttle(3.0)
    assert not refused.allow_request(request, None)
    assert refused.wait() == pytest.approx(57.0)  # until the first request leaves the window
    assert not _throttle(59.5).allow_request(request, None)  # a refusal takes no room
    assert _throttle(60.5).allow_request(request, None)  # the request at 0 has left
    assert not _throttle(60.6).allow_request(request, None)
    assert _throttle(60.6).allow_request(_request(pk=2), None)  # another user's own window


def test_a_burst_of_concurrent_requests_gets_exactly_the_limit(redis_cache, monkeypatch):
    # DRF's get-then-set lets concurrent requests read the same history and all pass.
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "5/min"})
    request, results, start = _request(), [], threading.Barrier(20)

    def hit():
        throttle = UserRateThrottle()
        start.wait()
        results.append(throttle.allow_request(request, None))

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5 and len(results) == 20


def test_the_window_expires_with_its_duration(redis_cache, three_a_minute):
    _throttle(0.0).allow_request(_request(), None)
    client = redis_cache._cache.get_client()
    (key,) = client.keys("orderly-tests-throttling:*")
    assert 0 < client.pttl(key) <= 60_000


def test_an_unreachable_redis_lets_requests_through(settings, three_a_minute):
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    assert all(_throttle(float(t)).allow_request(_request(), None) for t in range(5))


@pytest.mark.django_db
def test_throttled_api_requests_get_429_in_the_api_shape(
    redis_cache, three_a_minute, monkeypatch, client_for
):
    monkeypatch.setattr(APIView, "throttle_classes", [UserRateThrottle])
    client = client_for(UserFactory())
    codes = [client.get("/api/v1/orders/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/orders/")
    assert response.json()["error"]["code"] == "THROTTLED"
    assert response["Retry-After"] in ("59", "60")  # 59.9... s rounded up once, not to 61


def test_a_zero_rate_refuses_with_the_whole_window_to_wait(redis_cache, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "0/min"})
    refused = _throttle(10.0)
    assert not refused.allow_request(_request(), None)
    assert refused.wait() == pytest.approx(60.0)


def test_a_redis_refusing_writes_lets_requests_through(redis_cache, three_a_minute, monkeypatch):
    from redis.exceptions import ReadOnlyError

    import core.throttling

    def read_only(**kwargs):
        raise ReadOnlyError("You can't write against a read only replica.")

    monkeypatch.setattr(core.throttling, "_script", read_only)
    assert all(_throttle(float(t)).allow_request(_request(), None) for t in range(5))
