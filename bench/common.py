"""Shared by the bench drivers: environment, database, seeding, the server
processes, running a load in a child process, percentiles and tables.

Only the standard library is imported at module level; Django is set up by
`prepare_database()` after `configure_env()` has set the environment."""

from __future__ import annotations

import argparse
import fcntl
import io
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import suppress
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
DB_NAME = "orderly_bench"
BROKER_DB = 14  # test.sh uses 15
CACHE_DB = 13  # throttle counters, shared by the gunicorn workers as in production
QUEUES = "confirmation,fulfilment,refunds,notifications,maintenance"
BENCH_WAREHOUSE = "US-EAST"
DSN = f"{PG_URL}/{DB_NAME}"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"bench/{Path(sys.argv[0]).stem}", description=description)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--quick", action="store_true", help="smaller defaults for a smoke run")
    p.add_argument(
        "--workers",
        type=int,
        default=3,
        help="gunicorn processes (default 3, for 2 cores: see bench/README.md)",
    )
    p.add_argument("--threads", type=int, default=4, help="gthread threads per process (default 4)")
    p.add_argument(
        "--celery-concurrency",
        type=int,
        default=8,
        help="Celery worker threads (default 8, as configured; the pool is threads)",
    )
    return p


def parse(p: argparse.ArgumentParser, quick: dict) -> argparse.Namespace:
    """Parse the command line; --quick swaps in the `quick` defaults (flags given
    explicitly still win)."""
    args = p.parse_args()
    if args.quick:
        p.set_defaults(**quick)
        args = p.parse_args()
    return args


# --- environment and database ----------------------------------------------------------


_LOCK = []


def configure_env() -> None:
    """Take the bench lock (one run at a time: each drops orderly_bench), and set
    the app's environment for this process and the servers it starts. Must run
    before Django is imported."""
    lock = open(Path(tempfile.gettempdir()) / "orderly-bench.lock", "w")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("another bench run is in progress (it owns the orderly_bench database)")
    _LOCK.append(lock)  # held until this process exits
    for url in (PG_URL, REDIS_URL):
        if urlsplit(url).hostname != "127.0.0.1":
            sys.exit(f"refusing to benchmark {url}: only 127.0.0.1 is allowed")
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=DSN,
        CELERY_BROKER_URL=f"{REDIS_URL}/{BROKER_DB}",
        CACHE_URL=f"{REDIS_URL}/{CACHE_DB}",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        THROTTLE_ANON_RATE="1000000/min",
        THROTTLE_USER_RATE="1000000/min",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def prepare_database() -> None:
    """Drop and recreate orderly_bench, empty the bench Redis databases,
    set Django up, migrate and seed the demo data."""
    import psycopg
    import redis

    log(f"recreating database {DB_NAME}")
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    for db in (BROKER_DB, CACHE_DB):
        redis.Redis.from_url(f"{REDIS_URL}/{db}").flushdb()

    import django
    from django.core.management import call_command

    django.setup()
    log("migrate + seed_demo")
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())


def create_products(count: int, *, stock: int, prefix: str = "BENCH") -> list[str]:
    """Products sold in US only, stocked in US-EAST through stock_adjust (so the
    ledger agrees). Prices 3.00-9.00: three lines stay far below any review rule."""
    from django.contrib.auth import get_user_model

    from inventory.models import MovementKind, Warehouse
    from inventory.services import product_create, stock_adjust

    admin = get_user_model().objects.get(username="admin")
    warehouse = Warehouse.objects.get(code=BENCH_WAREHOUSE)
    skus = []
    for i in range(count):
        sku = f"{prefix}-{i:04d}"
        price = Decimal(3 + i % 7)
        product = product_create(sku=sku, name=f"Bench item {i}", prices={"US": price}, actor=admin)
        stock_adjust(
            product=product,
            warehouse=warehouse,
            quantity=stock,
            actor=admin,
            reason="bench stock",
            kind=MovementKind.RECEIPT,
        )
        skus.append(sku)
    return skus


def create_customers(count: int) -> list[str]:
    """Customers with an unusable password (hashing 64 passwords takes a while)
    and an API token each. Returns the tokens."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from orders.models import CustomerProfile

    tokens = []
    for i in range(count):
        user = get_user_model().objects.create_user(
            username=f"bench{i:03d}", email=f"bench{i:03d}@bench.local"
        )
        CustomerProfile.objects.create(user=user)
        tokens.append(Token.objects.create(user=user).key)
    return tokens


def wait_settled(timeout: float = 300.0, stall: float = 60.0) -> float | None:
    """Seconds until no order is `pending` any more; None after `timeout`, or
    as soon as no order has left `pending` for `stall` seconds (a broken worker)."""
    from orders.models import Order

    start = last_change = time.monotonic()
    last = None
    while pending := Order.objects.filter(status="pending").count():
        now = time.monotonic()
        if pending != last:
            last, last_change = pending, now
        if now - start > timeout or now - last_change > stall:
            log(f"{pending} orders still pending after {now - start:.0f}s")
            return None
        time.sleep(0.25)
    return time.monotonic() - start


def status_counts() -> dict[str, int]:
    from django.db.models import Count

    from orders.models import Order

    rows = Order.objects.values("status").annotate(n=Count("id")).order_by("status")
    return {row["status"]: row["n"] for row in rows}


def stock_checks() -> list[str]:
    """Failures (empty when all is well): no negative or over-reserved stock
    level; the ledger sums and the open reservations agree with every level."""
    from django.db.models import F, Q, Sum

    from inventory.models import Reservation, StockLevel, StockMovement

    failures = []
    bad = StockLevel.objects.filter(
        Q(on_hand__lt=0) | Q(reserved__lt=0) | Q(reserved__gt=F("on_hand"))
    )
    failures += [f"stock level out of range: {lv}" for lv in bad.select_related("product")]
    ledger = {
        (r["product_id"], r["warehouse_id"]): (r["on_hand"], r["reserved"])
        for r in StockMovement.objects.values("product_id", "warehouse_id").annotate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
        )
    }
    held = dict(
        Reservation.objects.filter(status__in=["active", "committed"])
        .values("stock_level_id")
        .annotate(n=Sum(F("quantity") - F("quantity_fulfilled")))
        .values_list("stock_level_id", "n")
    )
    for lv in StockLevel.objects.select_related("product"):
        sums = ledger.get((lv.product_id, lv.warehouse_id), (0, 0))
        if sums != (lv.on_hand, lv.reserved):
            failures.append(f"ledger {sums} != on_hand/reserved of {lv}")
        if held.get(lv.pk, 0) != lv.reserved:
            failures.append(f"open reservations {held.get(lv.pk, 0)} != reserved of {lv}")
    return failures


def order_checks(numbers: list[str], no_response: int = 0) -> list[str]:
    """Every 201 has exactly one order, and there is no order without a 201.
    `no_response`: requests the client gave up on (their order may exist)."""
    from orders.models import Order

    created, distinct, in_db = len(numbers), len(set(numbers)), Order.objects.count()
    if created == distinct == in_db:
        return []
    hint = f" ({no_response} requests got no response)" if no_response else ""
    return [f"201 responses {created}, distinct numbers {distinct}, orders in DB {in_db}{hint}"]


def no_response(results: list[list]) -> int:
    return sum(1 for r in results if r[0] == 0)


# --- the servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """gunicorn + a Celery worker, each in its own session (so Ctrl-C reaches
    only us, and we kill whole process groups). Logs go to a temp directory."""

    def __init__(self, *, workers: int, threads: int, celery_concurrency: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logdir = Path(tempfile.mkdtemp(prefix="orderly-bench-"))
        py = sys.executable
        self.commands = {
            "gunicorn": [py, "-m", "gunicorn", "config.wsgi:application",
                         "-w", str(workers), "-k", "gthread", "--threads", str(threads),
                         "-b", f"127.0.0.1:{self.port}", "--log-level", "warning"],
            "celery": [py, "-m", "celery", "-A", "config", "worker", "-Q", QUEUES,
                       "-c", str(celery_concurrency), "-n", "bench@%h", "-l", "warning"],
        }  # fmt: skip
        self.procs: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> Servers:
        try:
            for name, cmd in self.commands.items():
                with open(self.logdir / f"{name}.log", "wb") as out:
                    self.procs[name] = subprocess.Popen(
                        cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                        stderr=subprocess.STDOUT, start_new_session=True,
                    )  # fmt: skip
            log(f"gunicorn on {self.url}, logs in {self.logdir} (kept if anything goes wrong)")
            self._wait_healthy(60)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        if exc_type is None and not self.check_logs():
            shutil.rmtree(self.logdir, ignore_errors=True)  # kept when something went wrong

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")
            with suppress(OSError), urllib.request.urlopen(f"{self.url}/health/", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"/health/ not 200 after {timeout}s:\n{self.tail('gunicorn')}")

    def tail(self, name: str, lines: int = 20) -> str:
        text = (self.logdir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        # A second Ctrl-C while stopping must not leave the servers running.
        previous = {
            sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self._stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self) -> None:
        for proc in self.procs.values():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def check_logs(self) -> list[str]:
        """Tracebacks and errors the servers logged (they log at warning level)."""
        found = []
        for name in self.commands:
            for line in (self.logdir / f"{name}.log").read_text(errors="replace").splitlines():
                if "Traceback" in line or " ERROR " in line or "CRITICAL" in line:
                    found.append(f"{name}: {line.strip()[:200]}")
        return found


def run_main(main) -> None:
    """Exit with main()'s code. SIGTERM becomes SystemExit and Ctrl-C a short
    message, both after the `with Servers(...)` blocks have stopped the servers."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted (servers stopped)")
        sys.exit(130)


# --- the load, in a child process ------------------------------------------------------


def run_child(module: str, spec: dict) -> dict:
    """Run `python -m <module>` with the spec as JSON on stdin; return its JSON.
    A separate process, so the load generator competes with nothing of ours for the GIL."""
    proc = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def cpu_seconds(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named process group
    (gunicorn's and the worker's, by their leaders' pids), by the PostgreSQL
    backends serving the bench database (not the server's background writers,
    nor other databases' sessions), and by this process's finished children
    (the load generator). Read from /proc; the difference of two readings is
    what a level cost."""
    used = dict.fromkeys([*groups, "postgres"], 0.0)
    by_group = {pgid: name for name, pgid in groups.items()}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            text = stat.read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            fields = text[text.rindex(")") + 2 :].split()
            # fields[2] is the process group; [11] and [12] are utime and stime.
            name = by_group.get(int(fields[2]))
            if name is None and comm == "postgres":
                backend = (stat.parent / "cmdline").read_bytes()
                name = "postgres" if f" {DB_NAME} ".encode() in backend else None
            if name:
                used[name] += (int(fields[11]) + int(fields[12])) / tick
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used["load generator"] = children.ru_utime + children.ru_stime
    # Every process of the machine, those that exited included (a backend that
    # lived for one task): busy time in the first line of /proc/stat.
    busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, busy[:8])
    used["machine"] = (user + nice + system + irq + softirq + steal) / tick
    return used


def sample_stacks(groups: dict[str, int], seconds: float, outdir: Path, label: str) -> list:
    """Start py-spy on each named process group (its leader and the leader's
    children: every gunicorn worker, or the Celery worker) for `seconds`,
    sampling only the thread that holds the GIL, so the flame graphs show where
    CPU goes under load, not waits. Returns the py-spy processes, for
    `stacks_sampled`. py-spy is not a requirement: `pip install py-spy`."""
    if shutil.which("py-spy") is None:
        raise SystemExit("--py-spy needs py-spy on PATH: pip install py-spy")
    outdir.mkdir(parents=True, exist_ok=True)
    samplers = []
    for name, pid in groups.items():
        out = outdir / f"{label}-{name}.svg"
        cmd = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--gil", "--rate", "100",
               "--duration", str(max(1, int(seconds))), "--output", str(out)]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        samplers.append((proc, out))
    return samplers


def stacks_sampled(samplers: list) -> list[str]:
    """Wait for `sample_stacks`'s samplers; the flame graphs written, or why not."""
    written = []
    for proc, out in samplers:
        _, stderr = proc.communicate()
        if proc.returncode == 0 and out.exists():
            written.append(str(out))
        else:
            log(f"py-spy wrote no {out.name}: {stderr.strip()[-300:]}")
    return written


def warm_up(servers: Servers, tokens: list[str], clients: int, seconds: float = 2.0) -> None:
    """Authenticated reads from every gunicorn thread before measuring, so that
    lazy imports and the threads' first database connections are not measured."""
    run_child("bench.loadgen", {
        "base_url": servers.url, "threads": clients, "mode": "closed", "duration": seconds,
        "request": {"kind": "get", "targets": [[t, "/api/v1/orders/?page_size=1"] for t in tokens]},
    })  # fmt: skip


def machine() -> dict:
    """What the figures were measured on, with the load average at the end of the run."""
    import platform
    from datetime import UTC, datetime

    import redis
    from django.db import connection

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor())  # fmt: skip
    meminfo = Path("/proc/meminfo").read_text().split()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg_version,) = cursor.fetchone()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "redis": redis.Redis.from_url(REDIS_URL).info("server")["redis_version"],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# --- numbers and tables ----------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def latency_ms(results: list[list], pct: float) -> float | None:
    value = percentile([r[1] for r in results], pct)
    return None if value is None else round(value * 1000, 1)


def error_summary(results: list[list], ok: set[int]) -> dict[str, int]:
    """Counts of non-OK outcomes, keyed "status code" (e.g. "400 INSUFFICIENT_STOCK",
    "0 ConnectionError")."""
    counts: dict[str, int] = {}
    for status, _, info in results:
        if status not in ok:
            key = f"{status} {info}".strip()
            counts[key] = counts.get(key, 0) + 1
    return counts


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    numeric = [all(not isinstance(r[i], str) for r in rows) for i in range(len(headers))]

    def line(values):
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def report(args, title: str, sections: list[tuple[str, str, list[str], list[list]]], extra: dict):
    """Print the tables (or one JSON document with --json). A section is
    (JSON key, table title, column headers, rows)."""
    if args.json:
        doc = {"benchmark": title, **extra}
        for key, _, headers, rows in sections:
            doc[key] = [dict(zip(headers, row, strict=True)) for row in rows]
        print(json.dumps(doc, indent=2, default=str))
        return
    print(f"\n== {title}")
    for _, name, headers, rows in sections:
        print(f"\n{name}\n{table(headers, rows)}")
    for key, value in extra.items():
        print(f"\n{key}: {json.dumps(value, default=str)}")
