"""`celery` with the built-in test gateway instrumented, for the fault tests.

Run exactly like the celery command line (`python worker_shim.py -A config
worker ...`). Before handing over to Celery it wraps
`TestGateway.authorize` so that, per environment variable:

- FAULTS_GATEWAY_LOG: every authorize call appends one JSON line (pid,
  idempotency key, token, time) to this file, flushed to disk before the
  call proceeds, so a test sees that a worker is inside the call and can
  count how often the gateway was asked, across processes and restarts;
- FAULTS_AUTHORIZE_SLEEP + FAULTS_SLEEP_ONCE_FILE: the first authorize call
  (first across every process that shares the marker file) sleeps this many
  seconds before answering, long enough for a test to SIGKILL the worker in
  the middle of confirmation. Later calls answer at once.

No application code changes: the wrapper lives only in this process (and
the pool processes it forks)."""

from __future__ import annotations

import json
import os
import sys
import time


def _instrument() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from payments.gateways.test_gateway import TestGateway

    original = TestGateway.authorize
    log_path = os.environ.get("FAULTS_GATEWAY_LOG", "")
    sleep_seconds = float(os.environ.get("FAULTS_AUTHORIZE_SLEEP", "0") or 0)
    once_file = os.environ.get("FAULTS_SLEEP_ONCE_FILE", "")

    def _first_slow_call() -> bool:
        if sleep_seconds <= 0:
            return False
        if not once_file:
            return True
        try:
            fd = os.open(once_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def authorize(self, **kwargs):
        slow = _first_slow_call()
        if log_path:
            line = json.dumps(
                {
                    "pid": os.getpid(),
                    "key": kwargs.get("idempotency_key"),
                    "token": kwargs.get("token"),
                    "slow": slow,
                    "at": time.time(),
                }
            )
            fd = os.open(log_path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o644)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        if slow:
            time.sleep(sleep_seconds)
        return original(self, **kwargs)

    TestGateway.authorize = authorize


def main() -> None:
    _instrument()
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(celery_main())


if __name__ == "__main__":
    main()
