import pytest

from payments.gateways.test_gateway import TestGateway
from tests.fulfillment.support import confirmed_order, ful  # noqa: F401
from tests.orders.support import on_commit, place, shop  # noqa: F401


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()
