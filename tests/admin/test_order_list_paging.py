"""The order changelist does not count the whole table on every page: the
planner's estimate stands in for a large unfiltered list; filtered lists and
small tables keep exact counts."""

import re
from unittest import mock

from django.urls import reverse

from core import admin_paging
from core.admin_paging import EstimatedCountPaginator
from orders.models import Order


def test_small_table_keeps_the_exact_count(place_held):
    place_held()
    place_held()

    assert EstimatedCountPaginator(Order.objects.order_by("pk"), 100).count == 2


def test_large_unfiltered_list_uses_the_planner_estimate(place_held):
    place_held()
    with mock.patch.object(admin_paging, "table_row_estimate", return_value=1_000_000):
        unfiltered = EstimatedCountPaginator(Order.objects.order_by("pk"), 100)
        filtered = EstimatedCountPaginator(Order.objects.filter(status="on_hold"), 100)

        assert unfiltered.count == 1_000_000
        assert unfiltered.num_pages == 10_000
        assert filtered.count == 1  # a filter keeps the exact count


def test_the_estimate_reads_the_orders_table(place_held):
    # pg_class answers for the real table (the number itself depends on ANALYZE).
    assert admin_paging.table_row_estimate(Order) >= -1


def test_changelist_hides_the_full_count_and_still_lists_orders(client, reviewer, place_held):
    order = place_held()
    place_held()
    client.force_login(reviewer)

    with mock.patch.object(admin_paging, "table_row_estimate", return_value=1_000_000):
        response = client.get(reverse("admin:orders_order_changelist"), {"q": order.number})

    html = response.content.decode()
    assert response.status_code == 200
    assert order.number in html
    assert "1 result" in html
    assert not re.search(r"\d+ total", html)  # no second COUNT(*) for an "N total" link
