"""Walk every URL pattern as a logged-in customer: staff endpoints answer 403
in the API.md shape for every method they implement, the admin sends the
customer to its login page, and nothing answers 5xx."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from core.permissions import ReadAnyoneWriteStaff, StaffWithPerms
from tests.factories import UserFactory

METHODS = ("get", "post", "put", "patch", "delete")
PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def concrete(route: str) -> str:
    def value(match):
        converter, name = match.groups()
        if converter == "int":
            return "1"
        return "US-000001" if name == "number" else "x"

    return "/" + PARAM.sub(value, route).lstrip("^").rstrip("$")


def api_views():
    for route, pattern in walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if route.startswith("api/v1/") and view_class is not None:
            yield route, view_class


def staff_only_methods(view_class) -> list[str]:
    permissions = getattr(view_class, "permission_classes", [])
    implemented = [m for m in METHODS if hasattr(view_class, m)]
    if any(issubclass(p, ReadAnyoneWriteStaff) for p in permissions):
        return [m for m in implemented if m != "get"]
    if any(issubclass(p, StaffWithPerms) for p in permissions):
        return implemented
    return []


STAFF_ROUTES = [
    (route, method) for route, view in api_views() for method in staff_only_methods(view)
]


def test_the_walk_finds_the_staff_endpoints():
    routes = {route for route, _ in STAFF_ROUTES}
    for expected in (
        "api/v1/inventory/adjustments/",
        "api/v1/orders/<str:number>/approve/",
        "api/v1/orders/<str:number>/shipments/",
        "api/v1/analytics/summary/",
    ):
        assert expected in routes, sorted(routes)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "method"), STAFF_ROUTES, ids=[f"{m.upper()} {r}" for r, m in STAFF_ROUTES]
)
def test_customer_gets_403_on_every_staff_endpoint(route, method, client_for):
    client = client_for(UserFactory())
    response = getattr(client, method)(concrete(route), {}, format="json")
    assert response.status_code == 403, (route, method, response.content[:300])
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


@pytest.mark.django_db
def test_every_api_route_answers_a_customer_without_5xx(client_for):
    client = client_for(UserFactory())
    for route, view in api_views():
        for method in (m for m in METHODS if hasattr(view, m)):
            response = getattr(client, method)(concrete(route), {}, format="json")
            assert response.status_code < 500, (route, method, response.content[:300])
            assert b"Traceback" not in response.content


@pytest.mark.django_db
def test_admin_pages_send_a_customer_to_the_login(client):
    customer = UserFactory()
    client.force_login(customer)
    for path in (
        "/admin/",
        "/admin/orders/order/",
        "/admin/orders/order/review-queue/",
        "/admin/reports/dashboard/",
    ):
        response = client.get(path)
        assert response.status_code in (302, 403), path
        if response.status_code == 302:
            assert response["Location"].startswith("/admin/login/"), path
