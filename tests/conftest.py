import pytest
from rest_framework.test import APIClient

from tests.factories import StaffFactory, UserFactory, token_for


def _client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture(scope="session", autouse=True)
def _celery_conf_loaded():
    """The Celery app makes its broker connection and producer pools once, on
    first use, from the settings of that moment. Make them now, as a worker or
    web process does at start, so a test that overrides broker settings (and
    happens to be first to publish or ask the workers) cannot leave its
    overrides in the pools for the rest of the session."""
    from config.celery import app

    app.amqp.producer_pool  # noqa: B018  (creating it is the point)


@pytest.fixture
def api():
    """Anonymous API client."""
    return APIClient()


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def customer_api(customer):
    return _client_for(customer)


@pytest.fixture
def other_customer_api(db):
    return _client_for(UserFactory())


@pytest.fixture
def staff_user(db):
    """Staff with every model permission (like an ops manager)."""
    from django.contrib.auth.models import Permission

    user = StaffFactory()
    user.user_permissions.set(Permission.objects.all())
    return user


@pytest.fixture
def staff_api(staff_user):
    return _client_for(staff_user)


@pytest.fixture
def client_for():
    return _client_for


@pytest.fixture(autouse=True)
def _no_leftover_processing_errors(request):
    """error_record commits on its own connection (so a failure survives the
    caller's rollback), which also outlives a `db` test's rollback. Start each
    database test from an empty error list."""
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if not uses_db:
        return
    from operations.models import ProcessingError

    request.getfixturevalue("_django_db_helper")
    ProcessingError.objects.all().delete()
