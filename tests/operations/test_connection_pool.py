"""DATABASE_POOL=true swaps the persistent per-thread connections for psycopg's
pool. Settings are read once, so each case runs in a subprocess against this
run's test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)

# Runs in the subprocess: one thread holds the only pooled connection while a
# request needs one, then the connection is handed back and the next request runs.
SCRIPT = r"""
import json, threading
import django
django.setup()
from django.db import connection
from django.test import Client

assert connection.pool is not None, "no pool configured"
held, release = threading.Event(), threading.Event()

def hold():
    from django.db import connection
    connection.ensure_connection()
    held.set()
    release.wait(20)
    connection.close()  # back to the pool

holder = threading.Thread(target=hold)
holder.start()
assert held.wait(10)
starved = Client().get("/api/v1/orders/", HTTP_AUTHORIZATION="Token " + "0" * 40)
release.set()
holder.join()
served = Client().get("/api/v1/orders/", HTTP_AUTHORIZATION="Token " + "0" * 40)
print(json.dumps({
    "starved": [starved.status_code, starved.json(), starved.headers.get("Retry-After")],
    "served": [served.status_code, served.json()],
    "max_size": connection.pool.max_size,
}))
"""


def test_pool_serves_requests_and_a_starved_request_gets_503():
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_POOL": "true",
        "DATABASE_POOL_MAX_SIZE": "1",
        "DATABASE_POOL_TIMEOUT": "0.5",
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "CRITICAL",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["max_size"] == 1
    status, body, retry_after = out["starved"]
    assert status == 503 and body["error"]["code"] == "SERVICE_UNAVAILABLE", out
    assert retry_after
    # With the connection back in the pool the same request reaches auth: a bad token.
    assert out["served"][0] == 401
    assert out["served"][1]["error"]["code"] == "AUTHENTICATION_REQUIRED"
