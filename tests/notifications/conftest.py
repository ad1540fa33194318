import pytest

from notifications.sms import LocmemSmsBackend

from .support import FlakyEmailBackend, Receiver, serve

ORDER_CONTEXT = {
    "order_number": "US-000123",
    "customer_name": "Ana Cruz",
    "status": "confirmed",
    "currency": "USD",
    "total": "53.99",
    "items": [
        {"sku": "TSHIRT-RED-M", "name": "T-shirt red M", "quantity": 2},
        {"sku": "MUG-WHITE", "name": "Mug & saucer", "quantity": 1},
    ],
}


@pytest.fixture
def order_context():
    return {**ORDER_CONTEXT, "items": [dict(item) for item in ORDER_CONTEXT["items"]]}


@pytest.fixture(autouse=True)
def _locmem_sms(settings):
    settings.SMS_BACKEND = "notifications.sms.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    yield
    LocmemSmsBackend.outbox.clear()


@pytest.fixture
def flaky_email(settings):
    """The email backend is down until the test sets `FlakyEmailBackend.failing = False`."""
    settings.EMAIL_BACKEND = "tests.notifications.support.FlakyEmailBackend"
    FlakyEmailBackend.reset()
    yield FlakyEmailBackend
    FlakyEmailBackend.reset()


@pytest.fixture
def receiver(monkeypatch):
    """A real HTTP server on 127.0.0.1 (stdlib, own thread, free port)."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    endpoint = Receiver()
    server = serve(endpoint)
    yield endpoint
    server.shutdown()
    server.server_close()
