"""bench/scale: how the staff pages and the maintenance commands hold up as orders
pile up. Grows one database (`orderly_scale` by default) to each of `--sizes`
orders, written straight in SQL (bench/scale_data.py), ANALYZEs it, then times
with a logged-in superuser through Django's test client (in-process, one request
at a time) the admin pages and the staff API, and runs every maintenance and
reconcile command in a subprocess of its own, recording its peak memory.

Pages are timed `--repeat` times (median shown) after one untimed warm-up run;
their peak Python allocation is taken in one more run under tracemalloc. The CSV
export is timed to its first byte and to its last (all orders of the list).
Commands run once each, in the order listed, on the data as generated; their
"peak MiB" is the growth of the process's maximum resident set size over a
fresh `django.setup()` (resource.getrusage), i.e. what the command itself adds.
Exits 1 when reconcile_stock or reconcile_payments reports drift (the generated
data must be consistent).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")

COMMANDS = [
    ["expire_unconfirmed_orders"],
    ["requeue_stuck_orders"],
    ["settle_expiring_authorizations"],
    ["low_stock_report"],
    ["draft_purchase_orders"],
    ["purge_old_records"],
    ["reconcile_stock"],
    ["reconcile_payments"],
    ["issue_missing_documents"],
    ["check_workers"],
]
PAGE_LIMIT_S = 1.0
COMMAND_LIMIT_S = 60.0


def log(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


def configure_env(args) -> None:
    for url in (PG_URL, REDIS_URL):
        if urlsplit(url).hostname != "127.0.0.1":
            sys.exit(f"refusing to run against {url}: only 127.0.0.1 is allowed")
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"{PG_URL}/{args.db}",
        CELERY_BROKER_URL=f"{REDIS_URL}/{args.broker_db}",
        CACHE_URL=f"{REDIS_URL}/{args.cache_db}",
        DEBUG="false",
        ALLOWED_HOSTS="testserver,127.0.0.1",
        LOG_LEVEL="ERROR",
        EMAIL_URL="dummymail://",
        PYTHONUNBUFFERED="1",
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def prepare_database(args) -> None:
    """Create (or with --fresh recreate) the database, migrate, seed the demo data."""
    import io

    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.db]).fetchone()
        if args.fresh and exists:
            log(f"dropping database {args.db}")
            conn.execute(f'DROP DATABASE "{args.db}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{args.db}"')
    import django
    from django.core.management import call_command

    django.setup()
    log("migrate + seed_demo")
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())


# --- pages -------------------------------------------------------------------------------


def _sample_targets() -> dict:
    """An order to open and search for, and a customer e-mail to search by."""
    from orders.models import Order

    order = (
        Order.objects.filter(user_agent="bench-scale", status="delivered")
        .order_by("-pk")
        .select_related("customer", "market")
        .only("pk", "number", "customer__email", "market__id")
        .first()
    )
    return {"pk": order.pk, "number": order.number, "email": order.customer.email}


def pages(target: dict) -> list[tuple[str, str, str]]:
    """(name, method, path) of every page timed."""
    o = "/admin/orders/order/"
    return [
        ("admin orders", "GET", o),
        ("admin orders ?status=on_hold", "GET", o + "?status__exact=on_hold"),
        ("admin orders ?status=delivered", "GET", o + "?status__exact=delivered"),
        ("admin orders ?market=IN", "GET", o + "?market__id__exact=2"),
        ("admin orders ?payment_status=refunded", "GET", o + "?payment_status__exact=refunded"),
        ("admin orders ?source=admin", "GET", o + "?source__exact=admin"),
        ("admin orders search number", "GET", o + f"?q={target['number']}"),
        ("admin orders search email", "GET", o + f"?q={target['email']}"),
        ("admin order page", "GET", f"{o}{target['pk']}/change/"),
        ("review queue", "GET", o + "review-queue/"),
        ("review queue ?reason=address_check", "GET", o + "review-queue/?reason=address_check"),
        ("ops dashboard", "GET", "/admin/reports/dashboard/"),
        ("admin payments", "GET", "/admin/payments/payment/"),
        (
            "admin payments ?status=captured",
            "GET",
            "/admin/payments/payment/?status__exact=captured",
        ),
        ("admin refunds", "GET", "/admin/payments/refund/"),
        ("admin holds", "GET", "/admin/orders/hold/"),
        ("admin shipments", "GET", "/admin/fulfillment/shipment/"),
        ("admin returns", "GET", "/admin/returns/returnrequest/"),
        ("admin stock movements", "GET", "/admin/inventory/stockmovement/"),
        ("admin reservations", "GET", "/admin/inventory/reservation/"),
        ("admin step timings", "GET", "/admin/operations/steptiming/"),
        ("admin documents", "GET", "/admin/invoicing/fiscaldocument/"),
        ("API orders (staff)", "GET", "/api/v1/orders/"),
        ("API orders ?status=shipped", "GET", "/api/v1/orders/?status=shipped"),
        ("API orders ?market=PH", "GET", "/api/v1/orders/?market=PH"),
        ("API orders page 50", "GET", "/api/v1/orders/?page=50"),
    ]


def _get(client, path: str):
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")
    if getattr(response, "streaming", False):
        for _ in response.streaming_content:
            pass
    return response


def _export(client) -> dict:
    """The CSV export of every order (the changelist action with "select all"):
    time to the first chunk, to the last, bytes."""
    started = time.perf_counter()
    response = client.post(
        "/admin/orders/order/",
        {
            "action": "export_orders_csv",
            "select_across": "1",
            "index": "0",
            "_selected_action": "0",
        },
    )
    if response.status_code != 200 or not getattr(response, "streaming", False):
        raise RuntimeError(f"export: {response.status_code}, streaming={response.streaming}")
    first = None
    size = rows = 0
    for chunk in response.streaming_content:
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
        rows += chunk.count(b"\n")
    return {"first_s": first, "total_s": time.perf_counter() - started, "bytes": size, "rows": rows}


def _count_queries(call) -> int:
    from django.db import connection

    n = [0]

    def counting(execute, sql, params, many, context):
        n[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        call()
    return n[0]


def time_pages(repeat: int, with_export: bool) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin = get_user_model().objects.get(username="admin")
    client = Client()
    client.force_login(admin)
    _get(client, "/admin/")
    target = _sample_targets()
    results = []
    for name, _method, path in pages(target):
        _get(client, path)  # warm-up: imports, template compilation, the database's cache
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            _get(client, path)
            runs.append(time.perf_counter() - started)
        queries = _count_queries(lambda p=path: _get(client, p))
        tracemalloc.start()
        _get(client, path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results.append(
            {
                "what": name,
                "seconds": statistics.median(runs),
                "max_s": max(runs),
                "queries": queries,
                "peak_mib": peak / 2**20,
            }
        )
        log(f"  {name}: {results[-1]['seconds'] * 1000:.0f} ms, {queries} queries")
    if with_export:
        # Not under tracemalloc (it would triple the time of a million rows): the
        # growth of the process's peak RSS shows whether the export holds the rows.
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        export = _export(client)
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        for what, seconds in (
            ("CSV export, first byte", export["first_s"]),
            ("CSV export, all rows", export["total_s"]),
        ):
            results.append(
                {"what": what, "seconds": seconds, "max_s": seconds, "queries": None,
                 "peak_mib": grown, "rows": export["rows"] - 1, "bytes": export["bytes"]}
            )  # fmt: skip
        log(f"  export: first byte {export['first_s']:.2f} s, all {export['total_s']:.1f} s")
    return results


# --- commands ----------------------------------------------------------------------------


def run_command(argv: list[str], timeout: float) -> dict:
    """One management command in a fresh process (bench.scale_command), for its
    own wall time and peak memory."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "bench.scale_command", out.name, *argv],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"what": " ".join(argv), "seconds": None, "exit": "timeout", "peak_mib": None}
        wall = time.perf_counter() - started
        try:
            data = json.loads(Path(out.name).read_text() or "{}")
        except json.JSONDecodeError:
            data = {}
    if not data:
        log(f"  {argv[0]} failed: {proc.stderr[-1500:]}")
    return {
        "what": " ".join(argv),
        "seconds": data.get("seconds"),
        "process_s": wall,
        "exit": data.get("exit", proc.returncode),
        "peak_mib": data.get("peak_mib"),
        "queries": data.get("queries"),
        "output": (data.get("output") or "")[-300:],
    }


def time_commands(timeout: float, skip: set[str]) -> list[dict]:
    results = []
    for argv in COMMANDS:
        if argv[0] in skip:
            continue
        result = run_command(argv, timeout)
        results.append(result)
        shown = "-" if result["seconds"] is None else f"{result['seconds']:.2f} s"
        log(f"  {argv[0]}: {shown}, exit {result['exit']}, peak {result['peak_mib']} MiB")
    return results


# --- generation --------------------------------------------------------------------------


def grow(dsn: str, size: int) -> dict:
    from bench.scale_data import generate

    return generate(dsn, size, log=log)


# --- report ------------------------------------------------------------------------------


def fmt_s(value) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def print_tables(doc: dict) -> None:
    sizes = [run["orders"] for run in doc["runs"]]
    print(f"\nGeneration ({doc['db']}):")
    for run in doc["runs"]:
        g = run["generation"]
        print(
            f"  {run['orders']:>9,} orders: +{g['added']:,} in {g['seconds']:.0f} s "
            f"(analyze {g['analyze_s']:.0f} s)"
        )
    names = [row["what"] for row in doc["runs"][0]["pages"] + doc["runs"][0]["commands"]]
    header = ["what"] + [f"{n:,}" for n in sizes] + [f"q@{sizes[-1]:,}", f"MiB@{sizes[-1]:,}"]
    rows = []
    by_size = [{row["what"]: row for row in run["pages"] + run["commands"]} for run in doc["runs"]]
    for name in names:
        last = by_size[-1].get(name, {})
        cells = [name]
        for sized in by_size:
            row = sized.get(name)
            cell = fmt_s(row["seconds"]) if row else "-"
            if row and "exit" in row and row["exit"] not in (0, None):
                cell += f" (exit {row['exit']})"
            cells.append(cell)
        cells.append("-" if last.get("queries") is None else str(last["queries"]))
        peak = last.get("peak_mib")
        cells.append("-" if peak is None else f"{peak:.1f}")
        rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    print(
        f"\npages: median of {doc['repeat']} in-process requests (q = SQL statements, MiB = "
        "peak Python allocation under tracemalloc; for the export, growth of the max RSS); commands: one run each in its own process "
        "(MiB = max RSS growth over django.setup())."
    )


def machine() -> dict:
    import platform
    from datetime import UTC, datetime

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg_version,) = cursor.fetchone()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "commit": commit + ("+dirty" if dirty else ""),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/scale", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="order counts to grow the database to, in turn (default 10000,100000,1000000)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--db", default="orderly_scale", help="database name (default orderly_scale)")
    p.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    p.add_argument("--broker-db", type=int, default=11, help="Redis db of the broker (default 11)")
    p.add_argument("--cache-db", type=int, default=12, help="Redis db of the cache (default 12)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per page (default 3)")
    p.add_argument("--no-export", action="store_true", help="skip the CSV export")
    p.add_argument("--no-commands", action="store_true", help="skip the management commands")
    p.add_argument(
        "--skip-command", action="append", default=[], help="leave out this command (repeatable)"
    )
    p.add_argument(
        "--command-timeout", type=float, default=900, help="seconds before a command is killed"
    )
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes != sorted(sizes):
        sys.exit("--sizes must grow: the database is grown, never shrunk")

    configure_env(args)
    prepare_database(args)
    from django.db import connection

    dsn = f"{PG_URL}/{args.db}"
    doc = {"benchmark": "scale", "db": args.db, "repeat": args.repeat, "runs": []}
    doc["machine_at_start"] = machine()  # the commit measured, the load before the run
    for size in sizes:
        log(f"growing to {size:,} orders")
        generation = grow(dsn, size)
        connection.close()  # new statistics, new connection
        log(f"timing pages at {generation['orders']:,} orders")
        page_rows = time_pages(args.repeat, not args.no_export)
        command_rows = (
            [] if args.no_commands else time_commands(args.command_timeout, set(args.skip_command))
        )
        doc["runs"].append(
            {
                "orders": generation["orders"],
                "generation": generation,
                "pages": page_rows,
                "commands": command_rows,
            }
        )
    doc["machine"] = machine()
    slow = [
        f"{row['what']} @ {run['orders']:,}"
        for run in doc["runs"]
        for row in run["pages"]
        if row["seconds"] is not None
        and row["seconds"] > PAGE_LIMIT_S
        and not row["what"].startswith("CSV export, all")
    ] + [
        f"{row['what']} @ {run['orders']:,}"
        for run in doc["runs"]
        for row in run["commands"]
        if row["seconds"] is None or row["seconds"] > COMMAND_LIMIT_S
    ]
    doc["over_budget"] = slow
    # The generated data must be consistent: the reconcile commands find nothing.
    drift = [
        f"{row['what']} @ {run['orders']:,}: exit {row['exit']}"
        for run in doc["runs"]
        for row in run["commands"]
        if row["what"] in ("reconcile_stock", "reconcile_payments") and row["exit"] != 0
    ]
    doc["failed_checks"] = drift
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print_tables(doc)
        print(f"machine: {json.dumps(doc['machine'])}")
        if slow:
            print(f"over budget (page > {PAGE_LIMIT_S:.0f} s, command > {COMMAND_LIMIT_S:.0f} s):")
            for item in slow:
                print(f"  {item}")
        for item in drift:
            print(f"CHECK FAILED (the generated data drifted): {item}")
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
