import pytest

from notifications.models import Notification
from payments.gateways.test_gateway import TestGateway
from tests.orders.support import on_commit, place, shop  # noqa: F401


class Sent:
    """What customers were told, end to end: the e-mails the services queued
    (notifications' own rows), as (order number, event, context), oldest first."""

    def __iter__(self):
        for notification in Notification.objects.filter(channel="email").order_by("pk"):
            _, number, event, *_ = notification.dedupe_key.split(":")
            yield number, event, notification.context


@pytest.fixture
def notified(db):
    return Sent()


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()
