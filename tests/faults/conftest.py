"""Fault injection against throwaway infrastructure.

Other test suites share this machine's PostgreSQL (5432) and Redis (6379), so
nothing here touches them. The package gets its own PostgreSQL cluster (initdb
in a temp dir, its own port and socket) and its own Redis server (a child
process on a free port); each test starts the system under test against them
as subprocesses — gunicorn (`config.wsgi:application`) and Celery workers
(`tests/faults/worker_shim.py`, i.e. `celery -A config worker` with the test
gateway instrumented) — and drives it over HTTP with `requests`. State is read
with psycopg straight from the private database; no Django test database and
no `django_db` mark are involved.

Every process and temp dir is removed by fixture finalizers, also on failure.
When a test fails, the tails of the server logs are attached to its report.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import (
    STOCK_TOP_UP,
    Api,
    Infra,
    PrivatePostgres,
    PrivateRedis,
    Stack,
    pg_bindir,
)

_LOGS_KEY = pytest.StashKey[Callable[[], str]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    logs = item.stash.get(_LOGS_KEY, None)
    if report.failed and logs is not None:
        with contextlib.suppress(Exception):
            report.sections.append(("fault-injection server logs (tails)", logs()))


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="package")
def infra() -> Iterator[Infra]:
    bindir = pg_bindir()
    if bindir is None or not (bindir / "initdb").exists() or not (bindir / "pg_ctl").exists():
        pytest.fail(
            "fault tests need PostgreSQL server binaries (initdb, pg_ctl) under "
            "/usr/lib/postgresql/<ver>/bin or FAULTS_PG_BINDIR; deselect with -m 'not faults'"
        )
    if shutil.which("redis-server") is None:
        pytest.fail("fault tests need redis-server on PATH; deselect with -m 'not faults'")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("running as root: fault tests need runuser to run initdb as postgres")
    base = Path(tempfile.mkdtemp(prefix="orderly-faults-"))
    os.chmod(base, 0o755)  # the postgres user must reach base/pg
    pg, broker = PrivatePostgres(base), None
    # A CI timeout's SIGTERM would kill pytest without teardown and leave the
    # private servers running: make it an interrupt, which runs the finalizers.
    previous_sigterm = None
    if threading.current_thread() is threading.main_thread():
        previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        pg.create()
        broker = PrivateRedis(base)
        broker.start()
        infra = Infra(base=base, pg=pg, redis=broker)
        infra.manage("migrate", "--noinput", "-v", "0")
        infra.manage("seed_demo")
        infra.manage("shell", "-c", STOCK_TOP_UP)
        yield infra
    finally:
        if broker is not None and broker.proc is not None:
            broker.proc.stop()
        pg.destroy()
        if os.environ.get("FAULTS_KEEP_LOGS"):  # for debugging: keep every server log
            kept = Path(tempfile.mkdtemp(prefix="orderly-faults-logs-"))
            with contextlib.suppress(OSError):
                shutil.copytree(base / "logs", kept / "logs")
                shutil.copy(pg.logfile, kept / "postgres.log")
            print(f"\nfault-injection logs kept in {kept}")
        shutil.rmtree(base, ignore_errors=True)
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)


@pytest.fixture(autouse=True)
def _time_limit() -> Iterator[None]:
    """Each test (its own setup, call and teardown) gets FAULTS_TEST_TIMEOUT
    seconds, default 60: a hang becomes a failure, and the finalizers still run.
    The package's one-off setup (initdb, migrate, seed) is not counted."""
    limit = float(os.environ.get("FAULTS_TEST_TIMEOUT", "60"))
    if limit <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        # pytest's Failed is a BaseException: no `except Exception` on the way swallows it.
        pytest.fail(f"fault test still running after {limit:.0f}s (FAULTS_TEST_TIMEOUT)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def stack(infra: Infra, request) -> Iterator[Stack]:
    # A previous test may have left a server down; every test starts with both
    # up and an empty broker.
    infra.pg.ensure_running()
    infra.redis.ensure_running()
    infra.redis.client().flushall()
    # Unique per test, parametrized ones too (names longer than this share a prefix).
    name = request.node.name.replace("/", "_")
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    logdir = infra.base / "logs" / f"{name[:70]}-{digest}"
    logdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(infra, logdir)
    request.node.stash[_LOGS_KEY] = stack.logs
    try:
        yield stack
    finally:
        stack.stop_all()
        # Leave the servers up for the next test even if this one failed mid-fault.
        with contextlib.suppress(Exception):
            infra.pg.ensure_running()
        with contextlib.suppress(Exception):
            infra.redis.ensure_running()


@pytest.fixture
def api(stack: Stack) -> Api:
    """HTTP client of this test's gunicorn (here `api` is not tests/conftest.py's
    in-process APIClient: these tests only talk to subprocesses)."""
    gunicorn = stack.gunicorn or stack.start_gunicorn()
    return Api(gunicorn.url)
