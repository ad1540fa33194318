import pytest

from payments.gateways.test_gateway import TestGateway
from tests.orders.support import on_commit, place, shop  # noqa: F401


@pytest.fixture(autouse=True)
def notified(monkeypatch):
    """Records what the customer would be told. The notifications app is built
    in parallel, so tests never reach it: `order_notify` (imported late by the
    services) is replaced by a recorder of (order number, event, extra)."""
    calls: list[tuple[str, str, dict]] = []

    def record(*, order, event, extra=None, dedupe_suffix=""):
        calls.append((order.number, event, dict(extra or {})))

    monkeypatch.setattr("orders.services.notify.order_notify", record)
    return calls


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()
