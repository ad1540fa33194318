"""GET /api/v1/analytics/summary/: figures, date range handling, permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from reports.ranges import MAX_RANGE_DAYS
from tests.factories import StaffFactory
from tests.orders.support import assert_error, detail_pairs

from .conftest import at

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/summary/"


@pytest.fixture
def ops_api(ops, client_for):
    return client_for(ops)


def test_summary_for_a_day(known, ops_api):
    response = ops_api.get(URL, {"since": "2026-11-21", "until": "2026-11-21"})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["since"], body["until"]) == ("2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z")
    assert body["orders_total"] == 9
    assert body["orders_by_status"]["pending"] == 2
    assert body["orders_by_status"]["shipped"] == 2
    assert body["orders_by_status"]["returned"] == 0
    assert body["revenue"] == [
        {"market": "IN", "currency": "INR", "orders": 3, "total": "4646.50"},
        {"market": "US", "currency": "USD", "orders": 5, "total": "1570.19"},
    ]
    assert body["lead_time"] == {"shipped_orders": 4, "median_hours": "3.50", "p90_hours": "102.30"}
    assert body["returns"] == {"returns": 2, "delivered_orders": 3, "rate_percent": "66.67"}
    # Current state: the queue holds D and J whatever the range.
    assert body["held_for_review"]["count"] == 2
    assert body["held_for_review"]["oldest_number"] == known["J"].number
    assert set(body["stuck_orders"]) == {
        "count",
        "pending_count",
        "pending_after_minutes",
        "unshipped_count",
        "unshipped_after_hours",
        "oldest",
    }
    assert set(body["low_stock"]) == {"count", "default_threshold", "uses_reorder_points", "items"}


def test_datetimes_bound_the_range_exactly(known, ops_api):
    # [09:00, 12:00): B (09:00), C (10:00), D (11:00); E at 12:00 is out.
    response = ops_api.get(URL, {"since": "2026-11-21T09:00:00Z", "until": "2026-11-21T12:00:00Z"})

    body = response.json()
    assert body["orders_total"] == 3
    assert body["until"] == "2026-11-21T12:00:00Z"


def test_naive_datetimes_are_utc_and_offsets_are_converted(known, ops_api):
    naive = ops_api.get(URL, {"since": "2026-11-21T09:00:00", "until": "2026-11-21T12:00"}).json()
    # 14:30+05:30 is 09:00 UTC.
    offset = ops_api.get(
        URL, {"since": "2026-11-21T14:30:00+05:30", "until": "2026-11-21T12:00:00Z"}
    ).json()

    assert naive["since"] == offset["since"] == "2026-11-21T09:00:00Z"
    assert naive["orders_total"] == offset["orders_total"] == 3


def test_no_range_means_today_utc(seeder, ops_api):
    now = timezone.now()
    seeder.order(created=now, total="12.34")

    body = ops_api.get(URL).json()

    assert body["since"] == now.strftime("%Y-%m-%dT00:00:00Z")
    assert body["orders_total"] == 1
    us = next(r for r in body["revenue"] if r["market"] == "US")
    assert us["total"] == "12.34"


def test_only_since_runs_to_the_end_of_today(seeder, ops_api):
    seeder.order(created=at(1, month=11), total="1.00")
    seeder.order(created=timezone.now(), total="2.00")

    body = ops_api.get(URL, {"since": "2026-11-01"}).json()

    assert body["orders_total"] == 2


def test_money_is_always_two_decimals(seeder, ops_api):
    body = ops_api.get(URL, {"since": "2026-11-21", "until": "2026-11-21"}).json()

    assert [r["total"] for r in body["revenue"]] == ["0.00", "0.00"]
    assert body["lead_time"] == {"shipped_orders": 0, "median_hours": None, "p90_hours": None}
    assert body["returns"]["rate_percent"] is None


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"since": "yesterday"}, "since", "INVALID_DATE"),
        ({"since": "2026-02-30"}, "since", "INVALID_DATE"),
        ({"until": "21/11/2026"}, "until", "INVALID_DATE"),
        ({"since": "2026-11-21T25:00:00Z"}, "since", "INVALID_DATE"),
        ({"since": "2026-11-22", "until": "2026-11-21"}, "until", "INVALID_RANGE"),
        (
            {"since": "2026-11-21T12:00:00Z", "until": "2026-11-21T11:59:59Z"},
            "until",
            "INVALID_RANGE",
        ),
        ({"since": "2024-01-01", "until": "2026-11-21"}, None, "RANGE_TOO_LONG"),
        ({"since": "9999-12-31", "until": "9999-12-31"}, "since", "INVALID_DATE"),
        ({"until": "0001-01-01"}, "until", "INVALID_DATE"),
        ({"since": "0001-01-01T00:00:00+05:00"}, "since", "INVALID_DATE"),
        ({"since": "2026-11-21T10:00:00+99:00"}, "since", "INVALID_DATE"),
    ],
)
def test_bad_ranges_are_400_validation_failed(ops_api, params, field, code):
    response = ops_api.get(URL, params)

    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [(field, code)]


def test_a_year_is_allowed(ops_api):
    response = ops_api.get(URL, {"since": "2025-11-21", "until": "2026-11-20"})
    assert response.status_code == 200
    assert MAX_RANGE_DAYS == 366


def test_anonymous_is_401(api):
    assert_error(api.get(URL), 401, "AUTHENTICATION_REQUIRED")


def test_customers_are_403(customer_api):
    response = customer_api.get(URL)
    error = assert_error(response, 403, "PERMISSION_DENIED")
    assert "revenue" not in response.content.decode()
    assert error["details"] == []


def test_staff_without_the_order_view_permission_are_403(client_for):
    staff = StaffFactory()
    staff.user_permissions.set(Permission.objects.filter(codename="view_stocklevel"))

    assert_error(client_for(staff).get(URL), 403, "PERMISSION_DENIED")


def test_the_schema_documents_the_endpoint(staff_api):
    schema = staff_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/v1/analytics/summary/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"since", "until"}
    assert "AnalyticsSummary" in schema["components"]["schemas"]
