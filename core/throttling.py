"""API rate limits: DRF's sliding window, kept in Redis by one atomic call.

DRF's SimpleRateThrottle reads a client's whole request history from the
cache and writes it back: two round trips per request, the list (as long as
the limit) pickled both ways, and two concurrent requests can read the same
history, so a burst slips past the limit. With the cache on Redis the window
is a sorted set that one script trims, counts and adds to, atomically, in one
round trip. Any other cache (the quick start's per-process one) keeps DRF's
way. With Redis unreachable the request is let through: a rate limit
protects the API, it must not take it down with the cache."""

from __future__ import annotations

import logging
import secrets

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from redis.exceptions import RedisError
from rest_framework import throttling

from .cache import RedisCache

logger = logging.getLogger(__name__)

# KEYS[1] the window; ARGV: now, duration (seconds), limit, a unique member.
# Returns {1} when the request is in, else {0, the oldest request's time}.
# DRF's rules: a request older than `duration` has left the window; `limit`
# requests in it refuse the next.
_SLIDING_WINDOW = """
local now, duration = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(duration * 1000))
  return {1}
end
return {0, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]}
"""

_script = None  # redis-py's Script: EVALSHA, loading the script where Redis lacks it


class _RedisSlidingWindow:
    """The shared part of the two throttles below (DRF's own split: the rate
    and key come from the scope's class, the window from here)."""

    def allow_request(self, request, view):
        global _script
        cache = caches[DEFAULT_CACHE_ALIAS]
        if not isinstance(cache, RedisCache):
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        self.oldest = None
        client = cache._cache.get_client(write=True)
        if _script is None:
            _script = client.register_script(_SLIDING_WINDOW)
        member = f"{self.now:.6f}:{secrets.token_hex(4)}"
        try:
            answer = _script(
                keys=[cache.make_and_validate_key(key)],
                args=[repr(self.now), self.duration, self.num_requests, member],
                client=client,
            )
        except RedisError as exc:
            # Unreachable, or refusing writes (read-only replica, out of memory).
            logger.warning("cache unavailable; request not rate-limited: %s", exc)
            return True
        if int(answer[0]) == 1:
            return True
        # An empty window refused only under a zero rate ("0/min"): wait it all.
        self.oldest = float(answer[1]) if len(answer) > 1 else self.now
        return False

    def wait(self):
        if not isinstance(caches[DEFAULT_CACHE_ALIAS], RedisCache):
            return super().wait()
        if self.oldest is None:
            return None
        return max(self.duration - (self.now - self.oldest), 0.0)


class AnonRateThrottle(_RedisSlidingWindow, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_RedisSlidingWindow, throttling.UserRateThrottle):
    pass
