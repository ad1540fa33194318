"""The fault tests' harness: private PostgreSQL and Redis servers, the system
under test as subprocesses (gunicorn, Celery workers through worker_shim.py),
an HTTP client for the API, and integrity checks in SQL. Fixtures that wire
these together are in conftest.py."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
SHIM = Path(__file__).resolve().parent / "worker_shim.py"
QUEUES = "confirmation,fulfilment,refunds,notifications,maintenance"
DB_NAME = "orderly_faults"
PASSWORD = "Fault-injection-42!"
US_SKUS = ["TSHIRT-RED-M", "TSHIRT-BLUE-L", "HOODIE-GREY-M", "SNEAKER-WHT-42", "BACKPACK-BLK"]


# --- small helpers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval=0.1):
    """Poll `predicate` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} unreadable)"
    return "\n".join(text.splitlines()[-lines:])


def pg_bindir() -> Path | None:
    """Newest /usr/lib/postgresql/<ver>/bin with initdb (FAULTS_PG_BINDIR wins)."""
    if os.environ.get("FAULTS_PG_BINDIR"):
        return Path(os.environ["FAULTS_PG_BINDIR"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


# --- processes -------------------------------------------------------------------------


class Proc:
    """A child process in its own session, so that a kill reaches it and its
    children (gunicorn workers, Celery pool processes) and nothing else."""

    def __init__(self, name: str, cmd: list[str], *, env: dict, log: Path, cwd: Path = ROOT):
        self.name, self.cmd, self.env, self.log, self.cwd = name, cmd, env, log, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        """PIDs in this process's group other than itself (pool processes)."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.pid:
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) == self.pid and fields[0] != "Z":  # pgrp == our session
                    out.append(int(entry.name))
        return sorted(out)

    def kill_group(self, sig: int = signal.SIGKILL, timeout: float = 15) -> None:
        """Signal the whole process group (main process and its children)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # Orphaned children still in the group (e.g. a pool process) go too.
        deadline = time.monotonic() + 5
        while self.children() and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            time.sleep(0.05)

    def stop(self) -> None:
        """Teardown: throwaway processes need no graceful shutdown."""
        if self.proc is not None and (self.alive or self.children()):
            self.kill_group(signal.SIGKILL)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# --- private PostgreSQL ----------------------------------------------------------------


class PrivatePostgres:
    """A throwaway cluster: initdb in a temp dir, its own port and socket dir,
    trust auth, fsync off. Run as the `postgres` OS user when we are root."""

    def __init__(self, base: Path):
        self.bindir = pg_bindir()
        self.dir = base / "pg"
        self.data = self.dir / "data"
        self.logfile = self.dir / "postgres.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{DB_NAME}"
        self.dsn = (
            f"host=127.0.0.1 port={self.port} user=postgres dbname={DB_NAME} connect_timeout=5"
        )
        self.options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )

    def _as_owner(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def _pg(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            self._as_owner([str(self.bindir / args[0]), *args[1:]]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:1])} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{tail(self.logfile)}"
            )

    def create(self) -> None:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
        self.start()
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {DB_NAME}")

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-o", self.options, "-l", str(self.logfile),
                 "-w", "-t", "30", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-o", self.options,
                 "-l", str(self.logfile), "-w", "-t", "30", "restart")  # fmt: skip

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def destroy(self) -> None:
        if self.running:
            try:
                self.stop("immediate")
            except Exception:
                with contextlib.suppress(Exception):
                    pid = int((self.data / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)

    # -- reading and nudging state (autocommit, one connection per call) --

    def rows(self, query: str, params=()) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def one(self, query: str, params=()):
        rows = self.rows(query, params)
        return rows[0] if rows else None

    def execute(self, query: str, params=()) -> int:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(query, params).rowcount


# --- private Redis ---------------------------------------------------------------------


class PrivateRedis:
    """redis-server on a free port, in the foreground as our child: killing it
    is a broker outage; starting it again gives an empty broker (no
    persistence), i.e. every queued message is lost, as in a real crash."""

    def __init__(self, base: Path):
        self.port = free_port()
        self.dir = base / "redis"
        self.dir.mkdir(parents=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Proc | None = None

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--daemonize", "no",
               "--dir", str(self.dir)]  # fmt: skip
        self.proc = Proc("redis", cmd, env=dict(os.environ), log=self.dir / "redis.log").start()
        wait_until(self.ping, 15, f"private Redis on port {self.port}")

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def kill(self) -> None:
        """SIGKILL: the broker is gone, with everything it held."""
        if self.proc is not None:
            self.proc.kill_group(signal.SIGKILL)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.alive

    def ensure_running(self) -> None:
        if not self.running:
            self.start()


# --- the package's infrastructure ------------------------------------------------------


@dataclass
class Infra:
    base: Path
    pg: PrivatePostgres
    redis: PrivateRedis

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of the system under test: production settings
        (config.settings, not the test settings), pointed at the private
        servers; nothing inherited from the caller's Django/Celery setup."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "CELERY_", "DATABASE_", "CACHE_", "PYTEST_", "EMAIL_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=self.pg.url,
            CELERY_BROKER_URL=self.redis.url,
            CELERY_TASK_ALWAYS_EAGER="false",
            EMAIL_URL="dummymail://",
            CACHE_URL="locmemcache://",
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            THROTTLE_ANON_RATE="100000/min",
            THROTTLE_USER_RATE="100000/min",
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def manage(self, *args: str, timeout: float = 90, **extra_env: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(**extra_env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout


STOCK_TOP_UP = f"""
from django.contrib.auth import get_user_model
from inventory.models import MovementKind, Product, Warehouse
from inventory.services import stock_adjust
admin = get_user_model().objects.get(username="admin")
warehouse = Warehouse.objects.get(code="US-EAST")
for product in Product.objects.filter(sku__in={US_SKUS!r}):
    stock_adjust(product=product, warehouse=warehouse, quantity=10000, actor=admin,
                 reason="fault-injection stock", kind=MovementKind.RECEIPT)
"""


# --- the system under test, per test ---------------------------------------------------


@dataclass
class Gunicorn:
    proc: Proc
    url: str

    def worker_pids(self) -> list[int]:
        return self.proc.children()


class Stack:
    """One test's processes: gunicorn and any number of workers, all torn down
    at the end of the test. The private PostgreSQL and Redis are the package's."""

    def __init__(self, infra: Infra, logdir: Path):
        self.infra, self.pg, self.redis = infra, infra.pg, infra.redis
        self.logdir = logdir
        self.procs: list[Proc] = []
        self.gateway_log = logdir / "gateway.jsonl"
        self.sleep_once_file = logdir / "slept-once"
        self.gunicorn: Gunicorn | None = None

    def _log(self, name: str) -> Path:
        return self.logdir / f"{name}.log"

    def start_gunicorn(
        self, *, workers: int = 2, threads: int = 4, env: dict[str, str] | None = None
    ) -> Gunicorn:
        port = free_port()
        cmd = [sys.executable, "-m", "gunicorn", "config.wsgi:application",
               "-b", f"127.0.0.1:{port}", "-w", str(workers), "-k", "gthread",
               "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5",
               "--log-level", "warning"]  # fmt: skip
        proc = Proc(
            "gunicorn", cmd, env=self.infra.env(**(env or {})), log=self._log("gunicorn")
        ).start()
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def healthy():
            if not proc.alive:
                raise AssertionError(f"gunicorn exited:\n{tail(proc.log)}")
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{url}/health/", timeout=2).status_code == 200
            return False

        wait_until(healthy, 30, "gunicorn /health/ 200")
        self.gunicorn = Gunicorn(proc, url)
        return self.gunicorn

    def start_worker(
        self,
        name: str,
        *,
        concurrency: int = 1,
        authorize_sleep: float = 0.0,
        env: dict[str, str] | None = None,
        pool: str | None = None,
    ) -> Proc:
        """`celery -A config worker` on every queue, through the shim, with
        `pool` (default: the configured one, threads). With `authorize_sleep`,
        the first authorize call (of this test) sleeps."""
        if pool:
            # Not `-P`: Celery takes `-P prefork` for "no choice" when a pool is configured.
            env = {**(env or {}), "CELERY_WORKER_POOL": pool}
        env = self.infra.env(
            FAULTS_GATEWAY_LOG=str(self.gateway_log),
            FAULTS_AUTHORIZE_SLEEP=str(authorize_sleep),
            FAULTS_SLEEP_ONCE_FILE=str(self.sleep_once_file),
            **(env or {}),
        )
        cmd = [sys.executable, str(SHIM), "-A", "config", "worker", "-Q", QUEUES,
               "-c", str(concurrency), "-n", f"{name}@%h", "-l", "INFO",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        log = self._log(f"worker-{name}")
        proc = Proc(f"worker-{name}", cmd, env=env, log=log).start()
        self.procs.append(proc)

        def ready():
            if not proc.alive:
                raise AssertionError(f"worker {name} exited:\n{tail(log)}")
            return " ready." in proc.text()

        wait_until(ready, 45, f"worker {name} ready")
        return proc

    def sweep(self) -> str:
        """The stuck-order sweep (beat's requeue_stuck_orders), by hand, treating
        every pending order as stuck."""
        return self.infra.manage("requeue_stuck_orders", CONFIRMATION_REQUEUE_SECONDS="0")

    def gateway_calls(self) -> list[dict]:
        if not self.gateway_log.exists():
            return []
        return [json.loads(line) for line in self.gateway_log.read_text().splitlines() if line]

    def logs(self) -> str:
        parts = [f"--- {p.name} (pid {p.pid}) ---\n{tail(p.log, 60)}" for p in self.procs if p.proc]
        parts.append(f"--- postgres ---\n{tail(self.pg.logfile, 20)}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()


# --- the API, as a client sees it ------------------------------------------------------


def order_body(*, line1: str, sku: str = "TSHIRT-RED-M", quantity: int = 1,
               token: str = "tok_visa") -> dict:  # fmt: skip
    """A small US order. Each order gets its own address line, so that the
    duplicate-order risk rule never holds one for review."""
    return {
        "market": "US",
        "items": [{"sku": sku, "quantity": quantity}],
        "shipping_method": "standard",
        "shipping_address": {
            "name": "Ana Cruz",
            "phone": "+14155550100",
            "line1": line1,
            "line2": "",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
        "payment_method": "card",
        "payment_token": token,
    }


@dataclass
class Api:
    url: str

    def register(self) -> str:
        name = f"faults-{uuid.uuid4().hex[:12]}"
        response = requests.post(
            f"{self.url}/api/v1/auth/register/",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            timeout=20,
        )
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def place(self, token: str, body: dict, *, key: str | None = None, timeout: float = 20):
        headers = {"Authorization": f"Token {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        # A fresh connection per request: safe from any thread.
        return requests.post(f"{self.url}/api/v1/orders/", json=body, headers=headers,
                             timeout=timeout)  # fmt: skip

    def get(self, token: str, path: str, timeout: float = 20):
        return requests.get(f"{self.url}{path}", headers={"Authorization": f"Token {token}"},
                            timeout=timeout)  # fmt: skip


def assert_service_unavailable(response) -> None:
    """API.md: 503 SERVICE_UNAVAILABLE in the one error shape, no trace."""
    assert response.status_code == 503, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE", body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert isinstance(body["error"]["details"], list), body
    assert "Traceback" not in response.text and "psycopg" not in response.text, response.text


# --- integrity checks, in SQL on the private database ----------------------------------


def half_written_orders(pg: PrivatePostgres) -> list[tuple]:
    """Orders missing a part that placing writes in the same transaction: a
    number, lines, a reservation per line covering its quantity, a payment, the
    `pending` audit event."""
    return pg.rows(
        """
        SELECT o.number, o.status,
               (SELECT count(*) FROM orders_orderline l WHERE l.order_id = o.id) AS lines,
               (SELECT count(*) FROM orders_orderline l
                 WHERE l.order_id = o.id
                   AND l.quantity <> COALESCE((SELECT sum(r.quantity) FROM inventory_reservation r
                                               WHERE r.order_line_id = l.id), 0)) AS unreserved,
               EXISTS (SELECT 1 FROM payments_payment p WHERE p.order_id = o.id) AS paid,
               EXISTS (SELECT 1 FROM orders_orderevent e
                        WHERE e.order_id = o.id AND e.to_status = 'pending') AS placed_event
        FROM orders_order o
        WHERE o.number = ''
           OR NOT EXISTS (SELECT 1 FROM orders_orderline l WHERE l.order_id = o.id)
           OR EXISTS (SELECT 1 FROM orders_orderline l
                       WHERE l.order_id = o.id
                         AND l.quantity <> COALESCE((SELECT sum(r.quantity)
                                                     FROM inventory_reservation r
                                                     WHERE r.order_line_id = l.id), 0))
           OR NOT EXISTS (SELECT 1 FROM payments_payment p WHERE p.order_id = o.id)
           OR NOT EXISTS (SELECT 1 FROM orders_orderevent e
                           WHERE e.order_id = o.id AND e.to_status = 'pending')
        ORDER BY o.id
        """
    )


def stock_violations(pg: PrivatePostgres) -> list[tuple]:
    """Stock levels whose counters disagree with the append-only ledger or with
    the open reservations (what `reconcile_stock` checks)."""
    return pg.rows(
        """
        SELECT s.id, s.on_hand, s.reserved,
               COALESCE(m.on_hand, 0), COALESCE(m.reserved, 0), COALESCE(r.held, 0)
        FROM inventory_stocklevel s
        LEFT JOIN (SELECT product_id, warehouse_id, sum(on_hand_delta) AS on_hand,
                          sum(reserved_delta) AS reserved
                   FROM inventory_stockmovement GROUP BY product_id, warehouse_id) m
               ON m.product_id = s.product_id AND m.warehouse_id = s.warehouse_id
        LEFT JOIN (SELECT stock_level_id, sum(quantity - quantity_fulfilled) AS held
                   FROM inventory_reservation WHERE status IN ('active', 'committed')
                   GROUP BY stock_level_id) r ON r.stock_level_id = s.id
        WHERE s.on_hand <> COALESCE(m.on_hand, 0) OR s.reserved <> COALESCE(m.reserved, 0)
           OR s.reserved <> COALESCE(r.held, 0) OR s.reserved > s.on_hand OR s.reserved < 0
        """
    )


def order_state(pg: PrivatePostgres, number: str) -> dict:
    order = pg.one(
        """SELECT o.id, o.status, o.payment_status, p.id, p.uid::text, p.status
           FROM orders_order o JOIN payments_payment p ON p.order_id = o.id
           WHERE o.number = %s""",
        (number,),
    )
    assert order is not None, f"no order {number} in the database"
    order_id, status, payment_status, payment_id, uid, pay_status = order
    return {
        "id": order_id,
        "status": status,
        "payment_status": payment_status,
        "payment_uid": uid,
        "payment": pay_status,
        "events": pg.rows(
            "SELECT from_status, to_status FROM orders_orderevent WHERE order_id = %s ORDER BY id",
            (order_id,),
        ),
        "authorize_calls": pg.rows(
            """SELECT idempotency_key, attempts, ok, completed_at IS NOT NULL, started_at
               FROM payments_gatewaycall WHERE payment_id = %s AND operation = 'authorize'""",
            (payment_id,),
        ),
        "reservations": sorted(
            r[0]
            for r in pg.rows(
                """SELECT r.status FROM inventory_reservation r
                   JOIN orders_orderline l ON l.id = r.order_line_id WHERE l.order_id = %s""",
                (order_id,),
            )
        ),
        "lines": pg.one("SELECT count(*) FROM orders_orderline WHERE order_id = %s", (order_id,))[
            0
        ],
    }


def broker_idle(stack: Stack) -> bool:
    """No message queued or held unacknowledged (a task running, or waiting for
    its retry countdown) on the private Redis, twice in a row."""
    client = stack.redis.client()

    def empty():
        queued = sum(client.llen(k) for k in client.keys("*") if client.type(k) == b"list")
        return queued == 0 and client.hlen("unacked") == 0

    if not empty():
        return False
    time.sleep(0.3)
    return empty()


def wait_for_status(pg: PrivatePostgres, numbers, statuses: set[str], timeout: float) -> None:
    numbers = list(numbers)

    def settled():
        rows = pg.rows("SELECT number, status FROM orders_order WHERE number = ANY(%s)", (numbers,))
        return len(rows) == len(numbers) and all(status in statuses for _, status in rows)

    try:
        wait_until(settled, timeout, f"{len(numbers)} order(s) to reach {sorted(statuses)}", 0.2)
    except AssertionError:
        rows = pg.rows("SELECT number, status FROM orders_order WHERE number = ANY(%s)", (numbers,))
        raise AssertionError(
            f"orders not {sorted(statuses)} after {timeout:.0f}s: "
            f"{[r for r in rows if r[1] not in statuses]}"
        ) from None
