"""Every error leaves in the API.md shape {"error": {"code", "message",
"details"}} with the documented status, and never with a stack trace."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from tests.factories import StaffFactory
from tests.orders.support import (
    ORDERS_URL,
    assert_error,
    assert_unchanged,
    order_body,
    order_url,
    snapshot,
)

STAFF_ENDPOINTS = [
    ("post", "/api/v1/products/", {"sku": "NEW-1", "name": "New", "prices": {"US": "1.00"}}),
    ("get", "/api/v1/inventory/warehouses/", None),
    ("get", "/api/v1/inventory/stock/", None),
    ("get", "/api/v1/inventory/stock/?sku=TSHIRT-RED-M", None),
    (
        "post",
        "/api/v1/inventory/adjustments/",
        {"sku": "TSHIRT-RED-M", "warehouse": "US-EAST", "quantity": 5, "reason": "found"},
    ),
]


class TestAuthentication:
    @pytest.mark.parametrize(
        "url", [ORDERS_URL, "/api/v1/orders/US-000001/", "/api/v1/inventory/stock/"]
    )
    def test_no_token_is_401(self, db, api, url):
        response = api.get(url)
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")
        assert response.headers.get("WWW-Authenticate", "").startswith("Token")

    @pytest.mark.parametrize(
        "header", ["Token not-a-real-token", "Token ", "Token a b", "Bearer abc"]
    )
    def test_bad_token_is_401(self, db, header):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert_error(client.get(ORDERS_URL), 401, "AUTHENTICATION_REQUIRED")

    def test_token_of_deactivated_user_is_401(self, customer, customer_api):
        customer.is_active = False
        customer.save()
        assert_error(customer_api.get(ORDERS_URL), 401, "AUTHENTICATION_REQUIRED")

    def test_place_without_token_writes_nothing(self, shop, api):
        before = snapshot()
        response = api.post(ORDERS_URL, order_body("US"), format="json")
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")
        assert_unchanged(before)


class TestPermission:
    @pytest.mark.parametrize(("method", "url", "body"), STAFF_ENDPOINTS)
    def test_customer_on_staff_endpoint_is_403(self, shop, customer_api, method, url, body):
        before = snapshot()
        response = getattr(customer_api, method)(url, body, format="json")
        assert_error(response, 403, "PERMISSION_DENIED")
        assert_unchanged(before)

    @pytest.mark.parametrize(("method", "url", "body"), STAFF_ENDPOINTS)
    def test_anonymous_on_staff_endpoint_is_401(self, shop, api, method, url, body):
        response = getattr(api, method)(url, body, format="json")
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")

    @pytest.mark.parametrize(("method", "url", "body"), STAFF_ENDPOINTS)
    def test_staff_without_the_permission_is_403(self, shop, client_for, method, url, body):
        response = getattr(client_for(StaffFactory()), method)(url, body, format="json")
        assert_error(response, 403, "PERMISSION_DENIED")


class TestNotFound:
    def test_unknown_order_number(self, db, customer_api):
        error = assert_error(customer_api.get(order_url("US-999999")), 404, "NOT_FOUND")
        assert error["details"] == []

    @pytest.mark.parametrize("action", ["cancel", "history"])
    def test_unknown_order_number_actions(self, db, customer_api, action):
        method = customer_api.post if action == "cancel" else customer_api.get
        assert_error(method(order_url("US-999999", action)), 404, "NOT_FOUND")

    @pytest.mark.parametrize(
        "url",
        [
            "/api/v1/nope/",
            "/api/v1/orders/US-000001/nope/",
            "/api/v1/inventory/",
            "/api/v2/orders/",
        ],
    )
    def test_unknown_url(self, db, customer_api, url):
        response = customer_api.get(url)
        assert_error(response, 404, "NOT_FOUND")
        assert response["Content-Type"].startswith("application/json")

    @pytest.mark.parametrize("debug", [False, True])
    def test_unknown_api_url_is_json_even_in_debug(self, db, customer_api, settings, debug):
        settings.DEBUG = debug  # the demo runs with DEBUG on: no HTML page, no trace
        for url in ("/api/v1/", "/api/v1/nope", "/api/v1/orders/US-000001%2F/", "/api/x", "/api"):
            for method in ("get", "post"):
                response = getattr(customer_api, method)(url)
                assert_error(response, 404, "NOT_FOUND")
                assert response["Content-Type"].startswith("application/json")

    def test_session_post_to_an_unknown_url_is_json_not_a_csrf_page(self, customer):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(customer)
        response = client.post("/api/v1/refund/", {}, content_type="application/json")
        assert_error(response, 404, "NOT_FOUND")

    @pytest.mark.parametrize("debug", [False, True])
    def test_missing_trailing_slash_redirects_keeping_the_method(self, shop, api, settings, debug):
        settings.DEBUG = debug  # Django's APPEND_SLASH would fail a POST with a trace
        before = snapshot()
        posted = api.post("/api/v1/orders", {"market": "US"}, format="json")
        assert (posted.status_code, posted["Location"]) == (308, "/api/v1/orders/")
        got = api.get("/api/v1/markets", {"x": "1"})
        assert (got.status_code, got["Location"]) == (301, "/api/v1/markets/?x=1")
        assert_unchanged(before)

    def test_page_out_of_range(self, db, customer_api):
        assert_error(customer_api.get(ORDERS_URL, {"page": 99}), 404, "NOT_FOUND")


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "url"),
        [
            ("put", ORDERS_URL),
            ("delete", ORDERS_URL),
            ("delete", "/api/v1/orders/US-000001/"),
            ("patch", "/api/v1/orders/US-000001/"),
            ("get", "/api/v1/orders/US-000001/cancel/"),
            ("post", "/api/v1/orders/US-000001/history/"),
            ("get", "/api/v1/inventory/adjustments/"),
            ("delete", "/api/v1/markets/"),
        ],
    )
    def test_wrong_method_is_405(self, shop, staff_api, method, url):
        before = snapshot()
        response = getattr(staff_api, method)(url, {}, format="json")
        assert_error(response, 405, "METHOD_NOT_ALLOWED")
        assert_unchanged(before)

    def test_get_on_token_endpoint(self, db, api):
        assert_error(api.get("/api/v1/auth/token/"), 405, "METHOD_NOT_ALLOWED")


class TestMalformedInput:
    @pytest.mark.parametrize(
        ("who", "url"),
        [
            ("customer", ORDERS_URL),
            ("anonymous", "/api/v1/auth/register/"),
            ("anonymous", "/api/v1/auth/token/"),
            ("staff", "/api/v1/inventory/adjustments/"),
            ("staff", "/api/v1/products/"),
        ],
    )
    def test_malformed_json(self, shop, customer_api, staff_api, api, who, url):
        client = {"customer": customer_api, "staff": staff_api, "anonymous": api}[who]
        before = snapshot()
        response = client.post(
            url, data='{"market": "US", "items": [', content_type="application/json"
        )
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert [d["code"] for d in error["details"]] == ["MALFORMED_JSON"]
        assert_unchanged(before)

    @pytest.mark.parametrize(
        ("who", "url"),
        [
            ("customer", ORDERS_URL),
            ("anonymous", "/api/v1/auth/token/"),
            ("anonymous", "/api/v1/auth/register/"),
        ],
    )
    def test_json_nested_too_deeply(self, shop, customer_api, api, who, url):
        client = {"customer": customer_api, "anonymous": api}[who]
        before = snapshot()
        # Past Python's parser stack, just under it (parses, then breaks what
        # walks it), and past our limit of 64 levels.
        for depth in (5000, 900, 65):
            body = "[" * depth + "]" * depth
            response = client.post(url, data=body, content_type="application/json")
            error = assert_error(response, 400, "VALIDATION_FAILED")
            assert [d["code"] for d in error["details"]] == ["MALFORMED_JSON"], depth
        assert_unchanged(before)

    def test_form_encoded_body_is_refused(self, shop, customer_api):
        response = customer_api.post(
            ORDERS_URL, data="market=US", content_type="application/x-www-form-urlencoded"
        )
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")

    def test_json_array_instead_of_object(self, shop, customer_api):
        response = customer_api.post(ORDERS_URL, [1, 2], format="json")
        assert_error(response, 400, "VALIDATION_FAILED")

    def test_validation_error_lists_each_field(self, shop, customer_api):
        response = customer_api.post(ORDERS_URL, {}, format="json")
        error = assert_error(response, 400, "VALIDATION_FAILED")
        fields = {d["field"] for d in error["details"]}
        assert {
            "market",
            "items",
            "shipping_method",
            "shipping_address",
            "payment_method",
        } <= fields


class TestServerSideFailures:
    def test_unexpected_exception_is_500_without_a_trace(
        self, shop, customer, client_for, monkeypatch
    ):
        def boom(**kwargs):
            raise RuntimeError("secret internals: SELECT * FROM orders_order")

        monkeypatch.setattr("orders.api.orders.order_get", boom)
        client = client_for(customer)
        client.raise_request_exception = False
        response = client.get(order_url("US-000001"))
        assert_error(response, 500, "INTERNAL_ERROR")
        text = response.content.decode()
        assert "secret internals" not in text
        assert "SELECT" not in text

    def test_database_down_is_503(self, shop, customer, client_for, monkeypatch):
        def down(**kwargs):
            raise OperationalError("connection refused")

        monkeypatch.setattr("orders.api.orders.order_get", down)
        response = client_for(customer).get(order_url("US-000001"))
        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert "connection refused" not in response.content.decode()
        assert response.headers.get("Retry-After")

    def test_place_failing_midway_writes_nothing(self, shop, customer_api, place, monkeypatch):
        def down(**kwargs):
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr("orders.services.writing.payment_build", down)
        before = snapshot()
        response = place(customer_api, order_body("US"))
        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert_unchanged(before)
