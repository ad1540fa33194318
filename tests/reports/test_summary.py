"""The summary's figures on data worked out by hand (one UTC day, 2026-11-21,
read at 15:00 that day)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from inventory.models import StockLevel
from reports import selectors
from reports.ranges import DateRange
from tests.factories import WarehouseFactory, priced_product

from .conftest import DAY, NOW, at

pytestmark = pytest.mark.django_db

PERIOD = DateRange.day(DAY)


def test_orders_by_status_counts_orders_placed_in_the_range(known):
    summary = selectors.summary(PERIOD, now=NOW)

    assert summary.orders_by_status == {
        "pending": 2,  # F, O
        "on_hold": 1,  # D (J was placed the day before)
        "confirmed": 1,  # E (L is after the range)
        "processing": 1,  # G
        "partially_shipped": 0,
        "shipped": 2,  # B, M (placed at the range's first instant)
        "delivered": 1,  # A
        "partially_returned": 0,
        "returned": 0,
        "cancelled": 1,  # C
    }
    assert summary.orders_total == 9


def test_revenue_per_market_to_the_cent_without_cancelled_orders(known):
    revenue = selectors.summary(PERIOD, now=NOW).revenue

    assert [(r.market, r.currency, r.orders, r.total) for r in revenue] == [
        # A 19.99 + B 49.19 + D 1500.00 + M 0.01 + O 1.00; C (cancelled) left out
        ("IN", "INR", 3, Decimal("4646.50")),  # E 1499.00 + F 2998.50 + G 149.00
        ("US", "USD", 5, Decimal("1570.19")),
    ]


def test_revenue_lists_active_markets_without_orders_at_zero(seeder):
    revenue = selectors.revenue_per_market(PERIOD)

    assert [(r.market, r.orders, r.total) for r in revenue] == [
        ("IN", 0, Decimal("0.00")),
        ("US", 0, Decimal("0.00")),
    ]


def test_fulfilment_lead_time_median_and_p90(known):
    lead = selectors.summary(PERIOD, now=NOW).lead_time

    # First shipped in the range: M 1 h, A 2 h, B 5 h, I 144 h (confirmed on the 15th).
    assert lead.shipped_orders == 4
    assert lead.median_hours == Decimal("3.50")
    # p90 interpolates between 5 and 144: 5 + 139 × 0.7.
    assert lead.p90_hours == Decimal("102.30")


def test_return_rate_is_returns_opened_over_orders_delivered_in_the_range(known):
    returns = selectors.summary(PERIOD, now=NOW).returns

    # Returns opened on the 21st: A's and K's (rejected since, still a return asked for).
    # Delivered on the 21st: A, I, N.
    assert (returns.returns, returns.delivered_orders) == (2, 3)
    assert returns.rate_percent == Decimal("66.67")


def test_return_rate_is_none_when_nothing_was_delivered(seeder):
    assert selectors.return_rate(PERIOD).rate_percent is None


def test_held_for_review_counts_the_queue_and_ages_the_oldest_hold(known):
    held = selectors.summary(PERIOD, now=NOW).held_for_review

    assert held.count == 2  # D and J, whatever the range
    assert held.oldest_number == known["J"].number
    assert held.oldest_minutes == 30 * 60  # held at 09:00 the day before


def test_stuck_orders(known, settings):
    settings.STUCK_PENDING_MINUTES = 5
    settings.STUCK_UNSHIPPED_HOURS = 48

    stuck = selectors.summary(PERIOD, now=NOW).stuck_orders

    # F pending for 60 min; O only 2 min. H confirmed 77 h ago with nothing shipped;
    # E and G were confirmed hours ago, L not yet at all.
    assert (stuck.pending_count, stuck.unshipped_count, stuck.count) == (1, 1, 2)
    assert [(o.number, o.status, o.minutes) for o in stuck.oldest] == [
        (known["H"].number, "confirmed", 77 * 60),
        (known["F"].number, "pending", 60),
    ]


def test_stuck_thresholds_come_from_settings(known, settings):
    settings.STUCK_PENDING_MINUTES = 1
    settings.STUCK_UNSHIPPED_HOURS = 2

    stuck = selectors.stuck_orders(NOW)

    assert stuck.pending_count == 2  # F and O
    # H and E (confirmed 12:01); G was confirmed exactly 2 h ago, L after now.
    assert stuck.unshipped_count == 2
    assert (stuck.pending_after_minutes, stuck.unshipped_after_hours) == (1, 2)
    settings.STUCK_UNSHIPPED_HOURS = 1
    assert selectors.stuck_orders(NOW).unshipped_count == 3  # G too


@pytest.fixture
def stocked(db, settings):
    """US-EAST stock: T-shirt 4 available (10 on hand, 6 reserved), hoodie 20,
    socks 5, a retired product and a closed warehouse (both ignored)."""
    settings.LOW_STOCK_DEFAULT = 5
    warehouse = WarehouseFactory(code="US-EAST")
    closed = WarehouseFactory(code="OLD", active=False)
    tshirt = priced_product("TSHIRT-RED-M", {"US": "19.99"}, stock={warehouse: 10, closed: 0})
    hoodie = priced_product("HOODIE-GREY-M", {"US": "49.00"}, stock={warehouse: 20})
    priced_product("SOCKS", {"US": "5.00"}, stock={warehouse: 5})
    priced_product("RETIRED", {"US": "5.00"}, stock={warehouse: 0}, active=False)
    StockLevel.objects.filter(product=tshirt, warehouse=warehouse).update(reserved=6)
    return {"warehouse": warehouse, "tshirt": tshirt, "hoodie": hoodie}


def rows(low):
    return [
        (i.sku, i.warehouse, i.on_hand, i.reserved, i.available, i.threshold) for i in low.items
    ]


def test_low_stock_uses_available_units_and_the_default_threshold(stocked, settings):
    low = selectors.low_stock()

    assert low.count == 2
    assert rows(low) == [
        ("TSHIRT-RED-M", "US-EAST", 10, 6, 4, 5),
        ("SOCKS", "US-EAST", 5, 0, 5, 5),
    ]

    settings.LOW_STOCK_DEFAULT = 3
    assert selectors.low_stock().count == 0


def test_a_reorder_point_replaces_the_default_for_its_product_and_warehouse(stocked):
    from inventory.models import PurchaseOrder, ReorderPoint, Supplier
    from inventory.replenishment import purchase_orders_draft_for_low_stock

    supplier = Supplier.objects.create(name="Acme")
    warehouse = stocked["warehouse"]
    # The hoodie (20 available) is low by its reorder level of 25; the T-shirt
    # (4 available) is not, at a level of 2; socks keep the default of 5.
    for product, level in ((stocked["hoodie"], 25), (stocked["tshirt"], 2)):
        ReorderPoint.objects.create(
            product=product,
            warehouse=warehouse,
            reorder_level=level,
            reorder_quantity=50,
            supplier=supplier,
        )
    (drafted,) = purchase_orders_draft_for_low_stock()

    low = selectors.low_stock()

    assert low.uses_reorder_points is True
    assert low.count == 2
    assert rows(low) == [
        ("SOCKS", "US-EAST", 5, 0, 5, 5),
        ("HOODIE-GREY-M", "US-EAST", 20, 0, 20, 25),
    ]
    assert [i.on_order for i in low.items] == ["", drafted.number]
    assert PurchaseOrder.objects.count() == 1


def test_an_empty_range_is_all_zero(seeder):
    summary = selectors.summary(DateRange(at(21), at(21)), now=NOW)

    assert summary.orders_total == 0
    assert summary.lead_time == selectors.LeadTime(0, None, None)
    assert summary.stuck_orders.oldest == []


def test_percentile_interpolates_like_percentile_cont():
    assert selectors.percentile([], 0.5) is None
    assert selectors.percentile([7.0], 0.9) == 7.0
    assert selectors.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert selectors.percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)


def test_revenue_per_day_has_every_day_of_the_range(known):
    period = DateRange(at(20, 0), at(22, 0))

    series = selectors.revenue_per_day(period)

    assert series[("US", "USD")] == {
        dt.date(2026, 11, 20): Decimal("2000.00"),  # J
        dt.date(2026, 11, 21): Decimal("1570.19"),
    }
    assert series[("IN", "INR")][dt.date(2026, 11, 20)] == Decimal("0.00")
