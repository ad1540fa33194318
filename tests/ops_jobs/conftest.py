import pytest

from payments.gateways.test_gateway import TestGateway


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()
