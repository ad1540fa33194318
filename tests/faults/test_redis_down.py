"""The broker dies while customers place orders.

Placing writes the order in one transaction and enqueues confirmation on
commit. With Redis gone, each placement must either succeed (201: the order
is written whole and `pending`; its confirmation message is lost, and the
stuck-order sweep confirms it once Redis is back) or fail cleanly (503 in the
API.md shape with nothing written). Never a 500, and never an order written
behind an error response. Redis restarts empty (no persistence), as after a
real crash: every message it held is gone.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from .harness import (
    Api,
    Stack,
    assert_service_unavailable,
    broker_idle,
    half_written_orders,
    order_body,
    order_state,
    stock_violations,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.faults

ATTEMPTS = 4


def _customer_orders(stack: Stack, token: str) -> dict[str, str]:
    rows = stack.pg.rows(
        """SELECT o.number, o.status FROM orders_order o
           JOIN authtoken_token t ON t.user_id = o.customer_id WHERE t.key = %s""",
        (token,),
    )
    return dict(rows)


def _health(api: Api) -> tuple[int, dict]:
    response = requests.get(f"{api.url}/health/", timeout=15)
    return response.status_code, response.json()


def test_orders_placed_while_redis_is_down(stack: Stack, api: Api):
    worker = stack.start_worker("survivor", concurrency=2)
    token = api.register()

    # With the broker up, an order is confirmed end to end.
    response = api.place(token, order_body(line1="1 Before St"))
    assert response.status_code == 201, response.text
    before = response.json()["number"]
    wait_for_status(stack.pg, [before], {"confirmed"}, timeout=30)
    # The worker is idle when the broker dies (a busy worker: the next test).
    wait_until(lambda: broker_idle(stack), 20, "the worker to finish every task")

    stack.redis.kill()
    code, health = _health(api)
    assert code == 503 and health["checks"]["broker"] == "unavailable", health
    assert health["checks"]["database"] == "ok", health
    # Reads need no broker.
    assert api.get(token, f"/api/v1/orders/{before}/").status_code == 200

    attempts = []  # (body, idempotency key or None, response, seconds)
    for i in range(ATTEMPTS):
        body = order_body(line1=f"{i} Outage St")
        key = f"redis-down-{i}-{uuid.uuid4().hex}" if i % 2 == 0 else None
        started = time.monotonic()
        response = api.place(token, body, key=key)
        attempts.append((body, key, response, time.monotonic() - started))

    # No request hangs on the dead broker.
    assert max(seconds for *_, seconds in attempts) < 10, [s for *_, s in attempts]
    created = {r.json()["number"] for _, _, r, _ in attempts if r.status_code == 201}
    for _, _, r, _ in attempts:
        if r.status_code == 201:
            assert r.json()["status"] == "pending", r.text
        elif r.status_code == 503:
            assert_service_unavailable(r)
    unclean = [(key, r.status_code, r.text[:300]) for _, key, r, _ in attempts
               if r.status_code not in (201, 503)]  # fmt: skip

    # What the database holds: nothing half-written, whatever the answers were.
    assert half_written_orders(stack.pg) == []
    assert stock_violations(stack.pg) == []
    during = {n: s for n, s in _customer_orders(stack, token).items() if n != before}
    behind_errors = sorted(set(during) - created)  # committed, but the client got an error
    for number in during:
        state = order_state(stack.pg, number)
        assert state["status"] == "pending" and state["payment"] == "pending", state
        assert state["reservations"] == ["active"] * state["lines"], state
        assert state["authorize_calls"] == [], state  # nobody confirmed it yet

    # Redis comes back (empty). The web process and the worker reconnect on their own.
    stack.redis.start()
    wait_until(lambda: _health(api)[0] == 200, 20, "/health/ to report the broker back")
    # The confirmation messages were never published (or died with Redis): the
    # sweep re-enqueues every pending order and the worker confirms them.
    if during:
        output = stack.sweep()
        assert all(number in output for number in during), output
        wait_for_status(stack.pg, during, {"confirmed"}, timeout=45)
    for number in during:
        state = order_state(stack.pg, number)
        assert state["events"] == [("", "pending"), ("pending", "confirmed")], state
        assert len(state["authorize_calls"]) == 1, state
        assert state["reservations"] == ["committed"] * state["lines"], state

    # A client retrying a failed request with its Idempotency-Key gets one order.
    for body, key, r, _ in attempts:
        if key is not None and r.status_code != 201:
            retry = api.place(token, body, key=key)
            assert retry.status_code == 201, retry.text
    assert half_written_orders(stack.pg) == []
    assert stock_violations(stack.pg) == []
    assert worker.alive

    assert not unclean and not behind_errors, (
        "placement with Redis down must answer 201 (order pending, confirmed later by the "
        f"sweep) or 503 with nothing written; got {unclean}. "
        f"Orders committed although the client got an error: {behind_errors}"
    )


def test_busy_worker_survives_a_broker_outage(stack: Stack, api: Api):
    """Redis dies while a worker is in the middle of a confirmation (its
    message unacknowledged, acks_late). The confirmation completes exactly once,
    and the worker reconnects when Redis is back and keeps consuming, without
    being restarted. (kombu's own Redis channel failed the ack still queued for
    the finished task with an AttributeError that stopped the worker;
    core.broker turns it into a connection error kombu logs and survives.)"""
    worker = stack.start_worker("busy", concurrency=2, authorize_sleep=6)
    token = api.register()
    response = api.place(token, order_body(line1="1 Busy St"))
    assert response.status_code == 201, response.text
    first = response.json()["number"]
    wait_until(stack.gateway_calls, 20, "the worker to enter authorize")

    stack.redis.kill()
    time.sleep(2)
    stack.redis.start()
    # The in-flight confirmation finishes (it needs only PostgreSQL).
    wait_for_status(stack.pg, [first], {"confirmed"}, timeout=20)
    state = order_state(stack.pg, first)
    assert state["events"] == [("", "pending"), ("pending", "confirmed")], state
    assert len(state["authorize_calls"]) == 1, state

    wait_until(
        lambda: not worker.alive or worker.text().count("Connected to ") >= 2,
        20,
        "the worker to reconnect to Redis (or die)",
    )
    crash = [line for line in worker.text().splitlines() if "Unrecoverable error" in line]
    assert worker.alive, (
        "the Celery worker exited after losing Redis while it held an unacknowledged "
        f"message: {crash}"
    )
    response = api.place(token, order_body(line1="2 Busy St"))
    assert response.status_code == 201, response.text
    wait_for_status(stack.pg, [response.json()["number"]], {"confirmed"}, timeout=30)
    assert half_written_orders(stack.pg) == []
