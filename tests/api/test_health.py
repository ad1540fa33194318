"""GET /health/: 200 with every check "ok", or 503 naming the failing one."""

from __future__ import annotations

from django.db import OperationalError


def test_healthy(db, api):
    response = api.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_needs_no_credentials_and_is_not_cached(db, api):
    response = api.get("/health/")
    assert response.status_code == 200
    assert "no-cache" in response.headers.get(
        "Cache-Control", ""
    ) or "max-age=0" in response.headers.get("Cache-Control", "")


def test_database_down_is_503_naming_it(db, api, monkeypatch):
    class DeadConnection:
        def cursor(self):
            raise OperationalError("could not connect to server")

    monkeypatch.setattr("core.health.connection", DeadConnection())
    response = api.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] != "ok"
    assert body["checks"]["broker"] == "ok"
    assert body["status"] != "ok"
    assert "could not connect" not in response.content.decode()


def test_broker_down_is_503_naming_it(db, api, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = api.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": body["checks"]["broker"]}
    assert body["checks"]["broker"] != "ok"


def test_health_answers_other_methods_with_a_json_405(db, client):
    response = client.post("/health/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "GET, HEAD"
