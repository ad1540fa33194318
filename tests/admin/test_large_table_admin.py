"""Changelists of unbounded tables (core/admin_paging.py): no COUNT(*) over the
whole table, no SELECT DISTINCT over every row for the date hierarchy or a
filter's choices, and the same links and results as Django's own."""

import re
from datetime import datetime
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import admin_paging
from core.admin_paging import with_indexed_dates
from orders.models import Order

UTC = ZoneInfo("UTC")


def assert_reads_no_table_whole(queries, table: str) -> None:
    """Neither a COUNT over every row of `table` nor a SELECT DISTINCT over it."""
    sqls = [q["sql"] for q in queries.captured_queries]
    assert not [
        sql
        for sql in sqls
        if "COUNT(" in sql.upper() and table in sql and "WHERE" not in sql.upper()
    ], f"a COUNT over every row of {table}"
    assert not [sql for sql in sqls if "DISTINCT" in sql and table in sql]


@pytest.fixture
def spread(place_held):
    """Five held orders created across two years, three months and two days."""
    moments = [
        datetime(2024, 12, 31, 23, 30, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 10, tzinfo=UTC),
        datetime(2025, 1, 1, 9, 0, tzinfo=UTC),
        datetime(2025, 1, 2, 9, 0, tzinfo=UTC),
        datetime(2025, 3, 15, 12, 0, tzinfo=UTC),
    ]
    orders = []
    for moment in moments:
        order = place_held()
        Order.objects.filter(pk=order.pk).update(created_at=moment)
        orders.append(order)
    return orders


@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_indexed_datetimes_match_djangos(spread, kind, zone, settings):
    settings.TIME_ZONE = zone
    plain = Order.objects.all()
    for qs in (plain, plain.filter(created_at__year=2025), plain.filter(status="cancelled")):
        assert list(with_indexed_dates(qs).datetimes("created_at", kind)) == list(
            qs.datetimes("created_at", kind)
        )


def test_indexed_datetimes_keep_the_queryset_class_through_filters(spread):
    qs = with_indexed_dates(Order.objects.all()).filter(status="on_hold").select_related("market")
    with CaptureQueriesContext(connection) as queries:
        years = qs.datetimes("created_at", "year")
    assert [y.year for y in years] == [2024, 2025]
    assert not any("DISTINCT" in q["sql"] for q in queries.captured_queries)


def test_order_changelist_counts_and_dates_without_reading_every_order(client, reviewer, spread):
    client.force_login(reviewer)
    url = reverse("admin:orders_order_changelist")

    with (
        mock.patch.object(admin_paging, "table_row_estimate", return_value=1_000_000),
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert all(order.number in html for order in spread)
    assert "created_at__year=2024" in html and "created_at__year=2025" in html
    assert_reads_no_table_whole(queries, '"orders_order"')
    assert not re.search(r"\d+ total", html)


def test_drilling_down_a_year_lists_its_months(client, reviewer, spread):
    client.force_login(reviewer)

    response = client.get(reverse("admin:orders_order_changelist"), {"created_at__year": 2025})

    html = response.content.decode()
    assert "created_at__month=1" in html and "created_at__month=3" in html
    assert "created_at__month=2" not in html


def test_payment_status_filter_lists_every_status_and_filters(client, reviewer, spread):
    client.force_login(reviewer)
    url = reverse("admin:orders_order_changelist")

    with CaptureQueriesContext(connection) as queries:
        everything = client.get(url).content.decode()
    authorized = client.get(url, {"payment_status__exact": "authorized"}).content.decode()
    refunded = client.get(url, {"payment_status__exact": "refunded"}).content.decode()

    assert "payment_status__exact=partially_refunded" in everything
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"]]
    assert all(order.number in authorized for order in spread)
    assert not any(order.number in refunded for order in spread)


def test_payment_changelist_reads_no_table_whole(admin_client, spread):
    url = reverse("admin:payments_payment_changelist")
    with (
        mock.patch.object(admin_paging, "table_row_estimate", return_value=1_000_000),
        CaptureQueriesContext(connection) as queries,
    ):
        response = admin_client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert all(order.number in html for order in spread)
    # No whole-table count; the gateway and currency filters are index probes.
    assert_reads_no_table_whole(queries, '"payments_payment"')
    in_usd = admin_client.get(url, {"currency__exact": "USD"}).content.decode()
    in_inr = admin_client.get(url, {"currency__exact": "INR"}).content.decode()
    assert all(order.number in in_usd for order in spread)
    assert not any(order.number in in_inr for order in spread)
