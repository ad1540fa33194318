"""In-process profile of the hot paths: POST /api/v1/orders/ (place),
GET /api/v1/orders/{number}/ (detail) and GET /api/v1/orders/?page_size=20
(list), through Django's test client on the bench database, then the worker's
confirmation step (the `order_confirm` task body) on each placed order; one
after another (no HTTP server, no worker, no concurrency: this shows where one
request's time goes, not throughput).

For each request kind it prints the mean wall time, the SQL statements per
request and the time spent waiting on PostgreSQL, the CPU this process spent
per request (Python, the client side of the driver included) and the CPU its
PostgreSQL backend spent (read from /proc), then (with --top N) the
functions with the most own time under cProfile. Placement publishes its
confirmation to the bench broker (Redis db 14) as in production; no worker
runs, so nothing else competes for the CPU."""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import random
import time

from bench.common import (
    configure_env,
    create_customers,
    create_products,
    log,
    parse,
    parser,
    prepare_database,
    run_main,
    table,
)

HEADERS = [
    "step", "count", "mean ms", "SQL/step", "SQL ms/step", "other ms/step", "CPU ms", "PG CPU ms",
]  # fmt: skip


def backend_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend so far, from /proc
    (the bench's server is local); None where /proc does not tell."""
    import os

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, fields 14 and 15 of proc(5), counted after the ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def statement_meter():
    """An execute wrapper that adds up, per statement (its text with savepoint
    names made alike), this thread's CPU and its PostgreSQL backend's CPU
    (/proc/<pid>/schedstat, in nanoseconds: fine enough for one statement),
    and a function that prints the table. None where /proc does not tell."""
    import collections
    import os
    import re

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        path = f"/proc/{cursor.fetchone()[0]}/schedstat"
    if not os.path.exists(path):
        return None, None
    costs = collections.defaultdict(lambda: [0, 0, 0])  # count, backend ns, own ns

    def backend_ns() -> int:
        with open(path) as schedstat:
            return int(schedstat.read().split()[0])

    def wrapper(execute, statement, params, many, context):
        key = re.sub(r"\bs\d+_x\d+\b", "s_x", " ".join(statement.split()))[:90]
        backend, own = backend_ns(), time.thread_time_ns()
        try:
            return execute(statement, params, many, context)
        finally:
            cost = costs[key]
            cost[0] += 1
            cost[1] += backend_ns() - backend
            cost[2] += time.thread_time_ns() - own

    def report(name: str, n: int) -> None:
        print(f"\n=== {name}: per request, each statement's CPU (ms) ===")
        print(
            f"{'count':>5} {'PG':>6} {'Python':>6}  statement (Python: the driver's; COMMITs are not listed)"
        )
        for key, (count, backend, own) in sorted(costs.items(), key=lambda kv: -kv[1][1]):
            print(f"{count / n:5.1f} {backend / n / 1e6:6.3f} {own / n / 1e6:6.3f}  {key}")

    return wrapper, report


def order_body(skus: list[str], n: int) -> dict:
    return {
        "market": "US",
        "items": [{"sku": sku, "quantity": 1 + n % 2} for sku in random.sample(skus, 3)],
        "shipping_method": "standard",
        "shipping_address": {
            "name": "Bench Buyer",
            "phone": "+12025550143",
            "line1": f"{n} Profile Street",
            "city": "Springfield",
            "postal_code": "62701",
            "country": "US",
        },
        "payment_method": "card",
        "payment_token": "tok_visa",
    }


def measure(name: str, calls, args) -> list:
    """Run every call once to warm up, then all of them timed (and profiled),
    counting statements and their time with a connection execute wrapper."""
    from django.db import connection

    calls[0]()  # warm-up: first-use imports and caches
    sql = {"count": 0, "seconds": 0.0}
    if args.sql:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            calls[1]()
        print(f"\n=== {name}: the {len(captured)} statements of one request ===")
        for query in captured:
            print(f"{query['time']:>6}s  {query['sql'][: args.sql]}")
        calls = calls[1:]

    def timed(execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            sql["count"] += 1
            sql["seconds"] += time.perf_counter() - started

    top, sort, match = args.top, args.sort, args.match
    meter, report = statement_meter() if args.statements else (None, None)
    profiler = None if args.no_profile else cProfile.Profile()
    backend_before = backend_cpu_seconds()
    cpu_before = time.process_time()
    started = time.perf_counter()
    with connection.execute_wrapper(timed), contextlib.ExitStack() as stack:
        if meter:
            stack.enter_context(connection.execute_wrapper(meter))
        if profiler:
            profiler.enable()
        for call in calls[1:]:
            call()
        if profiler:
            profiler.disable()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    backend_after = backend_cpu_seconds()
    n = len(calls) - 1
    backend_ms = (
        round((backend_after - backend_before) * 1000 / n, 2)
        if backend_before is not None and backend_after is not None
        else "-"
    )
    if profiler and top:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(sort)
        stats.print_stats(*([match] if match else []), top)
        print(f"\n=== {name}: top {top} functions by {sort} time ({n} requests) ===")
        print(out.getvalue().split("\n", 6)[-1].rstrip())
    if report:
        report(name, n)
    sql_ms = sql["seconds"] * 1000 / n
    mean_ms = elapsed * 1000 / n
    return [name, n, round(mean_ms, 2), round(sql["count"] / n, 1), round(sql_ms, 2),
            round(mean_ms - sql_ms, 2), round(cpu * 1000 / n, 2), backend_ms]  # fmt: skip


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--requests", type=int, default=200, help="requests of each kind (default 200)")
    p.add_argument("--top", type=int, default=0, help="print the N costliest functions per kind")
    p.add_argument("--no-profile", action="store_true", help="time only (no cProfile overhead)")
    p.add_argument(
        "--sql",
        type=int,
        nargs="?",
        const=160,
        default=0,
        metavar="WIDTH",
        help="print one request's statements of each kind (first WIDTH characters, default 160)",
    )
    p.add_argument(
        "--statements",
        action="store_true",
        help="per statement: its count, PostgreSQL's CPU and the driver's, per request",
    )
    p.add_argument("--sort", default="tottime", help="pstats sort key (default tottime)")
    p.add_argument("--match", default="", help="only functions whose path matches this regex")
    args = parse(p, quick={"requests": 30})

    configure_env()
    prepare_database()
    skus = create_products(20, stock=1_000_000)
    token = create_customers(1)[0]

    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="127.0.0.1")  # the bench's ALLOWED_HOSTS
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    numbers: list[str] = []

    def place(n: int):
        def call():
            response = client.post("/api/v1/orders/", order_body(skus, n), format="json")
            assert response.status_code == 201, response.content[:300]
            numbers.append(response.json()["number"])

        return call

    def get(path: str):
        def call():
            response = client.get(path)
            assert response.status_code == 200, response.content[:300]

        return call

    def confirm(number: str):
        from orders.models import Order
        from orders.tasks import order_confirm

        order_id = Order.objects.values_list("pk", flat=True).get(number=number)

        def call():
            assert order_confirm.run(order_id) in ("confirmed", "on_hold"), number

        return call

    rows = [measure("place", [place(n) for n in range(args.requests + 1)], args)]
    # Fresh tables have no planner statistics; a live database has them
    # (autovacuum), so gather them as it would before reading the new orders.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    detail = [get(f"/api/v1/orders/{numbers[n % len(numbers)]}/") for n in range(args.requests + 1)]
    rows.append(measure("detail", detail, args))
    listing = [get("/api/v1/orders/?page_size=20") for _ in range(args.requests + 1)]
    rows.append(measure("list (20 orders)", listing, args))
    rows.append(measure("confirm (worker step)", [confirm(n) for n in numbers], args))
    log(f"{len(numbers)} orders placed")
    print(f"\nIn-process request cost{' (under cProfile)' if not args.no_profile else ''}")
    print(table(HEADERS, rows))
    return 0


if __name__ == "__main__":
    run_main(main)
