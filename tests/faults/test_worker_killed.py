"""SIGKILL a Celery worker in the middle of confirmation (while it waits on
the payment gateway's authorize call), then let the system recover: the order
ends up confirmed exactly once and its payment authorized exactly once.

How the message comes back depends on what died (settings: task_acks_late,
task_reject_on_worker_lost, CELERY_VISIBILITY_TIMEOUT = 20 s):

- the whole worker (its threads, as configured, or prefork's main process
  and pool processes; both are tested): nobody acks or rejects the
  message; it stays in Redis' `unacked` set until the visibility timeout has
  passed, when the replacement worker's periodic restore hands it out again.
  The order must be confirmed within RECOVERY_SECONDS of the kill, by the
  settings as shipped (no clock is moved). The stuck-order sweep
  (`requeue_stuck_orders`) is the other path, for a message that was never
  published; it is tested here too.
- only a prefork pool process: the main process sees WorkerLostError and,
  with reject_on_worker_lost, requeues the message at once.

Either way the second attempt finds the first authorize call still unanswered
(a GatewayCall row with started_at and no answer). Within the in-flight grace
(every attempt of the gateway client's timeout, plus 5 s: 20 s by default) it
is refused as "in progress" (the task retries); after that it is repeated with
the same idempotency key.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from .harness import (
    Api,
    Stack,
    half_written_orders,
    order_body,
    order_state,
    stock_violations,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.faults

# What an ops person may expect: a crashed worker's order moves on within this.
RECOVERY_SECONDS = 30


def _place_and_catch_in_authorize(stack: Stack, api: Api) -> tuple[str, dict]:
    """Place one order and wait until the (slow) worker is inside authorize."""
    token = api.register()
    response = api.place(token, order_body(line1=f"{time.time_ns()} Kill St"))
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    number = response.json()["number"]
    uid = order_state(stack.pg, number)["payment_uid"]
    key = f"{uid}:authorize"
    call = wait_until(
        lambda: next((c for c in stack.gateway_calls() if c["key"] == key), None),
        20,
        "the worker to enter the gateway's authorize call",
    )
    assert call["slow"], call
    state = order_state(stack.pg, number)
    assert state["status"] == "pending" and state["payment"] == "pending", state
    # The intent is on record before the call: one unanswered authorize row.
    assert [(k, attempts, done) for k, attempts, _, done, _ in state["authorize_calls"]] == [
        (key, 1, False)
    ], state
    return number, call


def _let_in_flight_grace_pass(stack: Stack, number: str) -> None:
    """Pretend a day has passed since the interrupted authorize call started."""
    changed = stack.pg.execute(
        """UPDATE payments_gatewaycall SET started_at = started_at - interval '1 day'
           WHERE operation = 'authorize' AND completed_at IS NULL
             AND payment_id = (SELECT p.id FROM payments_payment p
                               JOIN orders_order o ON o.id = p.order_id WHERE o.number = %s)""",
        (number,),
    )
    assert changed == 1


def _unacked(stack: Stack) -> int:
    return stack.redis.client().hlen("unacked")


def _assert_confirmed_exactly_once(stack: Stack, number: str, *, max_gateway_calls: int = 2):
    state = order_state(stack.pg, number)
    key = f"{state['payment_uid']}:authorize"
    assert state["status"] == "confirmed", state
    assert state["payment"] == "authorized" and state["payment_status"] == "authorized", state
    # Confirmed exactly once: one audit row per transition.
    assert state["events"] == [("", "pending"), ("pending", "confirmed")], state["events"]
    # Authorized exactly once: one GatewayCall row for the key, answered, ok.
    calls = state["authorize_calls"]
    assert len(calls) == 1, calls
    call_key, attempts, ok, done, _ = calls[0]
    assert (call_key, ok, done) == (key, True, True), calls
    # The gateway itself was asked at most twice, every time with the same key
    # (the interrupted call and its repeat), and our row counted each attempt.
    asked = [c for c in stack.gateway_calls() if c["key"].startswith(state["payment_uid"])]
    assert 1 <= len(asked) <= max_gateway_calls, asked
    assert {c["key"] for c in asked} == {key}, asked
    assert attempts == len(asked), (attempts, asked)
    # Stock: every reservation committed once, ledger and counters agree.
    assert state["reservations"] == ["committed"] * state["lines"], state
    assert stock_violations(stack.pg) == []
    assert half_written_orders(stack.pg) == []


@pytest.mark.parametrize("pool", ["threads", "prefork"])
@pytest.mark.parametrize("recovery", ["redelivery_after_visibility_timeout", "stuck_order_sweep"])
def test_worker_sigkilled_mid_confirmation_then_replaced(
    stack: Stack, api: Api, recovery: str, pool: str
):
    doomed = stack.start_worker("doomed", authorize_sleep=120, pool=pool)
    number, call = _place_and_catch_in_authorize(stack, api)
    # Threads call from the worker's own process, prefork from a pool process.
    callers = [doomed.pid] if pool == "threads" else doomed.children()
    assert call["pid"] in callers, f"the {pool} pool should be making the call"

    doomed.kill_group(signal.SIGKILL)  # every process of the worker, no goodbye
    assert not doomed.alive and doomed.children() == []
    # Nobody acked or rejected: the message waits in Redis for the visibility timeout.
    assert _unacked(stack) == 1
    assert order_state(stack.pg, number)["status"] == "pending"

    if recovery == "redelivery_after_visibility_timeout":
        # An ops person starts a new worker and waits: the broker hands the
        # message out again after the visibility timeout, the interrupted
        # authorize call is past its in-flight grace by then, and the order is
        # confirmed, all within RECOVERY_SECONDS of the kill.
        killed_at = time.monotonic()
        replacement = stack.start_worker("replacement")
        wait_for_status(stack.pg, [number], {"confirmed"}, timeout=RECOVERY_SECONDS + 15)
        recovered_in = time.monotonic() - killed_at
        assert recovered_in <= RECOVERY_SECONDS, f"confirmed {recovered_in:.1f} s after the kill"
        wait_until(lambda: _unacked(stack) == 0, 10, "the redelivered message to be acked")
    else:
        replacement = stack.start_worker("replacement")
        time.sleep(2)
        # The new worker does not get the message back within the visibility timeout.
        assert order_state(stack.pg, number)["status"] == "pending"
        assert _unacked(stack) == 1
        # The sweep runs (in production: > CONFIRMATION_REQUEUE_SECONDS = 60 s
        # later, so the in-flight grace of the interrupted call is over).
        _let_in_flight_grace_pass(stack, number)
        output = stack.sweep()
        assert number in output, output
        wait_for_status(stack.pg, [number], {"confirmed"}, timeout=30)

    assert replacement.alive
    _assert_confirmed_exactly_once(stack, number)


def test_pool_process_sigkilled_mid_confirmation(stack: Stack, api: Api):
    """Prefork: only the pool process dies (the OOM killer's usual victim): the main
    process requeues the message at once (reject_on_worker_lost) and a fresh
    pool process confirms the order; no new worker is needed."""
    worker = stack.start_worker("survivor", authorize_sleep=120, pool="prefork")
    number, call = _place_and_catch_in_authorize(stack, api)
    child = call["pid"]
    assert child in worker.children()
    # The interrupted call has been hanging past the in-flight grace.
    _let_in_flight_grace_pass(stack, number)
    os.kill(child, signal.SIGKILL)
    wait_for_status(stack.pg, [number], {"confirmed"}, timeout=40)
    assert worker.alive
    assert "WorkerLostError" in worker.text()
    _assert_confirmed_exactly_once(stack, number)
