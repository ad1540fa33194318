"""GET /health/: database and broker reachability, 503 naming what failed.

With a real broker (not eager mode) the answer also carries:
- `"queues": {"confirmation": 0, ...}`: messages waiting per Celery queue (Redis);
- `"queues_without_consumer": [...]`: routed queues no running worker consumes
  (orders would sit in `pending`). Workers are asked by a broadcast ping with a
  short timeout and the answer is cached for CONSUMER_CACHE_SECONDS.
Both are information for ops, never checks: a web node stays in its load
balancer when the workers are down (it still takes orders, which confirm once
a worker is back), and `manage.py check_workers` exits 1 for monitoring.
Each gives up within about a second (the key is left out when unknown).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from kombu import Connection

from core.exceptions import error_body

logger = logging.getLogger(__name__)

# How long the answer of the workers' broadcast is reused, and how long to wait for it.
CONSUMER_CACHE_SECONDS = 15
CONSUMER_INSPECT_TIMEOUT_SECONDS = 0.5
# Connect and read timeouts of the queue-depth probe: together at most ~1 s.
QUEUE_DEPTH_TIMEOUT_SECONDS = 0.5
# kombu's Redis transport keeps a queue as one list per priority step:
# "<queue>" for step 0, "<queue><sep><step>" for the others.
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any driver error means "down" here
        logger.warning("health: database down: %s", exc)
        return "unavailable"


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok"  # eager mode: tasks run in-process, there is no broker to lose
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        logger.warning("health: broker down: %s", exc)
        return "unavailable"


def queue_names() -> list[str]:
    names = list(settings.CELERY_QUEUES)
    routed = [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None)]
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict):
            queue = route.get("queue")
            routed.append(getattr(queue, "name", queue))
    names += [name for name in routed if isinstance(name, str) and name and name not in names]
    return names


def _redis_broker_url() -> str | None:
    """The broker URL if it is a Redis one (the first of a failover list)."""
    url = (settings.CELERY_BROKER_URL or "").split(";")[0].strip()
    return url if url.startswith(("redis://", "rediss://")) else None


def _queue_depths() -> dict[str, int] | None:
    """{queue: messages waiting}, or None when not measurable (eager mode, a
    broker other than Redis, or Redis not answering in time)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    url = _redis_broker_url()
    if url is None:
        return None
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
        prefix = options.get("global_keyprefix", "") or ""
        sep = options.get("sep", KOMBU_PRIORITY_SEP)
        steps = options.get("priority_steps", KOMBU_PRIORITY_STEPS)
        names = queue_names()
        client = redis.Redis.from_url(
            url,
            socket_timeout=QUEUE_DEPTH_TIMEOUT_SECONDS,
            socket_connect_timeout=QUEUE_DEPTH_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # one attempt: a slow Redis must not slow health down
        )
        try:
            with client.pipeline(transaction=False) as pipe:
                for name in names:
                    for step in steps:
                        pipe.llen(f"{prefix}{name}{sep}{step}" if step else f"{prefix}{name}")
                lengths = pipe.execute()
        finally:
            client.close()
    except Exception as exc:
        logger.warning("health: queue depth not available: %s", exc)
        return None
    per_queue = len(steps)
    return {
        name: sum(int(n) for n in lengths[i * per_queue : (i + 1) * per_queue])
        for i, name in enumerate(names)
    }


def consumed_queues(timeout: float = CONSUMER_INSPECT_TIMEOUT_SECONDS) -> set[str] | None:
    """Names of the queues the workers that answer within `timeout` consume, or
    None when the broker could not be asked. Not cached: `check_workers` wants
    the truth (and waits longer for a busy worker)."""
    from config.celery import app

    try:
        replies = app.control.inspect(timeout=timeout).active_queues()
    except Exception as exc:
        logger.warning("health: workers could not be asked: %s", exc)
        return None
    return {queue["name"] for queues in (replies or {}).values() for queue in queues}


def queues_without_consumer() -> list[str] | None:
    """Routed queues no worker consumes (cached briefly), or None when unknown."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    missing = cache.get("health:queues_without_consumer")
    if missing is None:
        consumed = consumed_queues()
        if consumed is None:
            return None
        missing = [name for name in queue_names() if name not in consumed]
        cache.set("health:queues_without_consumer", missing, CONSUMER_CACHE_SECONDS)
    return missing


@csrf_exempt
@never_cache
def health(request):
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(error_body("METHOD_NOT_ALLOWED", "Use GET."), status=405)
        response["Allow"] = "GET, HEAD"
        return response
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if checks["broker"] == "ok":
        queues = _queue_depths()
        if queues is not None:
            body["queues"] = queues
        missing = queues_without_consumer()
        if missing is not None:
            body["queues_without_consumer"] = missing
    return JsonResponse(body, status=200 if healthy else 503)
