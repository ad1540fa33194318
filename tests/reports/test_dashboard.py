"""The ops dashboard at /admin/reports/dashboard/: who may see it, and that
what it shows is the seeded data."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/reports/dashboard/"
DAY_21 = {"since": "2026-11-21", "until": "2026-11-21"}


def test_the_url_is_named_in_the_admin():
    assert reverse("admin:reports_dashboard") == URL


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={URL}"


def test_a_logged_in_customer_gets_403_not_a_login_page(client):
    client.force_login(UserFactory())

    response = client.get(URL)

    assert response.status_code == 403
    assert "revenue" not in response.content.decode().lower()


def test_staff_without_the_order_view_permission_get_403(client):
    client.force_login(StaffFactory())

    assert client.get(URL).status_code == 403


def test_staff_see_the_figures_of_the_seeded_data(known, client, ops):
    client.force_login(ops)

    response = client.get(URL, DAY_21)

    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary.orders_total == 9
    html = response.content.decode()
    assert '<strong id="range">2026-11-21 (UTC)</strong>' in html
    tile = re.search(r'id="tile-orders">\s*<span class="figure">(\d+)</span>', html)
    assert tile.group(1) == "9"
    # Revenue per market, to the cent, in each market's currency.
    assert re.search(r'id="revenue-US-USD">.*?1570\.19 USD', html, re.S)
    assert re.search(r'id="revenue-IN-INR">.*?4646\.50 INR', html, re.S)
    # Lead time and return rate tiles.
    assert re.search(r'id="tile-lead-time">\s*<span class="figure">3\.50 h</span>', html)
    assert "p90 102.30 h" in html
    assert re.search(r'id="tile-returns">\s*<span class="figure">66\.67%</span>', html)
    # The review queue holds D and J.
    assert re.search(r'id="tile-held">\s*<span class="figure">2</span>', html)


def test_the_status_chart_is_inline_svg_with_one_bar_per_status(known, client, ops):
    client.force_login(ops)

    html = client.get(URL, DAY_21).content.decode()

    chart = html[html.index('id="orders-by-status"') :]
    chart = chart[: chart.index("</svg>")]
    bars = re.findall(r"<title>([^<:]+): (\d+)</title>", chart)
    assert dict(bars) == {
        "Pending": "2",
        "On hold (review)": "1",
        "Confirmed": "1",
        "Processing": "1",
        "Partially shipped": "0",
        "Shipped": "2",
        "Delivered": "1",
        "Partially returned": "0",
        "Returned": "0",
        "Cancelled": "1",
    }
    # Pending and Shipped (2 each) get the longest bars; empty statuses none.
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"', chart)]
    assert widths[0] == max(widths) == widths[5]
    assert widths[4] == 0
    # Nothing is fetched from elsewhere: no scripts at all on the page.
    assert '<script src="http' not in html and "cdn" not in html.lower()


def test_a_status_bar_links_to_those_orders_in_the_changelist(known, client, ops):
    client.force_login(ops)
    chart = client.get(URL, DAY_21).context["status_chart"]
    shipped = next(bar for bar in chart.bars if bar.label == "Shipped")

    changelist = client.get(shipped.href)

    assert changelist.status_code == 200
    listed = {order.number for order in changelist.context["cl"].result_list}
    assert listed == {known["B"].number, known["M"].number}


def test_revenue_is_drawn_per_market_per_day(known, client, ops):
    client.force_login(ops)

    response = client.get(URL, {"since": "2026-11-20", "until": "2026-11-21"})

    charts = {chart.title: chart for chart in response.context["revenue_charts"]}
    assert set(charts) == {"US", "IN"}
    us = charts["US"]
    assert [(bar.label, bar.value) for bar in us.bars] == [
        ("2026-11-20", 2000.0),  # J
        ("2026-11-21", 1570.19),
    ]
    assert us.caption == "3570.19 USD"


def test_current_state_held_and_stuck_orders(seeder, client, ops, settings):
    settings.STUCK_PENDING_MINUTES = 5
    now = timezone.now()
    held = seeder.order(status="on_hold", created=now - timedelta(minutes=95),
                        held_at=now - timedelta(minutes=90))  # fmt: skip
    stuck = seeder.order(status="pending", created=now - timedelta(minutes=30))
    client.force_login(ops)

    response = client.get(URL)

    html = response.content.decode()
    assert re.search(r'id="tile-held">.*?oldest waiting 1 h 30 min', html, re.S)
    assert f'id="stuck-{stuck.number}"' in html
    assert reverse("admin:orders_order_change", args=[stuck.pk]) in html
    assert f'id="stuck-{held.number}"' not in html


def test_low_stock_is_listed(seeder, client, ops, settings):
    from tests.factories import WarehouseFactory, priced_product

    settings.LOW_STOCK_DEFAULT = 5
    warehouse = WarehouseFactory(code="US-EAST")
    priced_product("SOCKS", {"US": "5.00"}, stock={warehouse: 3})
    client.force_login(ops)

    html = client.get(URL).content.decode()

    assert re.search(r'id="tile-low-stock">\s*<span class="figure">1</span>', html)
    assert 'id="low-SOCKS-US-EAST"' in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-11-22", "until": "2026-11-21"}, "must not be after"),
        ({"since": "2026-11-32"}, "Enter a valid date"),
        ({"until": "9999-12-31"}, "Pick days between 1900 and 9998"),
        ({"since": "2020-01-01", "until": "2026-11-21"}, "Pick at most 366 days"),
        ({"since": "2020-01-01"}, "Pick at most 366 days"),  # to today
    ],
)
def test_a_bad_range_shows_the_error_and_today(client, ops, params, message):
    client.force_login(ops)

    response = client.get(URL, params)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["is_today"] is True


def test_step_timings_from_operations_are_shown(client, ops, monkeypatch):
    client.force_login(ops)
    timings = {"queue_wait": {"p50": 120.4, "p90": 4800.0, "p99": 90000.0, "count": 42}}
    monkeypatch.setattr("reports.selectors.step_timings", lambda period: timings)

    html = client.get(URL).content.decode()

    row = re.search(r'<tr id="timing-queue_wait">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells == ["Queue wait", "42", "120 ms", "4.8 s", "1.5 min"]


def test_step_timings_recorded_by_operations_for_the_range(seeder, client, ops):
    pytest.importorskip("operations.services")
    from operations.models import StepTiming
    from operations.services import timing_record

    order = seeder.order(created=timezone.now())
    other = seeder.order(created=timezone.now())
    for target, ms in ((order, 100), (other, 300)):
        timing_record(order_id=target.pk, step="payment", milliseconds=ms)
    old = seeder.order(created=timezone.now())
    timing_record(order_id=old.pk, step="payment", milliseconds=99_000)
    StepTiming.objects.filter(order=old).update(recorded_at=timezone.now() - timedelta(days=3))
    client.force_login(ops)

    html = client.get(URL).content.decode()

    row = re.search(r'<tr id="timing-payment">(.*?)</tr>', html, re.S).group(1)
    # Today's two runs only: p50 200, p90 280, p99 298 (interpolated).
    assert re.findall(r"<td>([^<]*)</td>", row) == ["Payment", "2", "200 ms", "280 ms", "298 ms"]


def test_the_admin_index_links_the_dashboard_for_those_allowed(client, ops):
    client.force_login(ops)
    assert 'id="ops-dashboard-link"' in client.get("/admin/").content.decode()

    other = StaffFactory()
    other.user_permissions.set(Permission.objects.filter(codename="view_stocklevel"))
    client.force_login(other)
    page = client.get("/admin/").content.decode()
    assert 'id="ops-dashboard-link"' not in page
    assert "Stock levels" in page  # the rest of the index is still there
