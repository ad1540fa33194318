import pytest

from payments.gateways.test_gateway import TestGateway
from tests.factories import UserFactory
from tests.orders.support import on_commit, place, shop  # noqa: F401

from .helpers import age_account


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()


@pytest.fixture
def old_customer(db):
    """A customer whose account is a month old: the new-account rule stays quiet."""
    return age_account(UserFactory(), days=30)
