"""Reads behind the ops dashboard and the analytics API.

`summary(period)` computes every figure for a `DateRange` ([since, until), UTC):

- range figures: orders by status and revenue per market (orders *created* in
  the range), fulfilment lead time (orders *first shipped* in the range), return
  rate (returns *created* in the range over orders *delivered* in it);
- current-state figures, as of `now` whatever the range: the review queue,
  stuck orders and low stock.

Everything here is plain ORM plus a little Python (percentiles), so it runs the
same on PostgreSQL and on the quick start's SQLite."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from inventory.models import ReorderPoint, StockLevel
from inventory.replenishment import low_stock_list
from operations.selectors import timing_percentiles
from orders.models import Market, Order, OrderStatus
from returns.models import ReturnRequest

from .ranges import UTC, DateRange

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
STUCK_LIST_LIMIT = 20
LOW_STOCK_LIST_LIMIT = 50
UNSHIPPED_STATUSES = [OrderStatus.CONFIRMED, OrderStatus.PROCESSING]


def stuck_pending_minutes() -> int:
    return int(getattr(settings, "STUCK_PENDING_MINUTES", 5))


def stuck_unshipped_hours() -> int:
    return int(getattr(settings, "STUCK_UNSHIPPED_HOURS", 48))


def low_stock_default() -> int:
    return int(getattr(settings, "LOW_STOCK_DEFAULT", 5))


# --- results -------------------------------------------------------------------


@dataclass(frozen=True)
class HeldForReview:
    count: int
    oldest_minutes: int | None  # since the oldest hold began; None when nothing is held
    oldest_number: str | None


@dataclass(frozen=True)
class StuckOrder:
    pk: int
    number: str
    status: str
    market: str
    stuck_since: dt.datetime  # created (pending) or confirmed (not shipped)
    minutes: int


@dataclass(frozen=True)
class StuckOrders:
    pending_count: int
    pending_after_minutes: int
    unshipped_count: int
    unshipped_after_hours: int
    oldest: list[StuckOrder]  # both kinds, longest stuck first, at most STUCK_LIST_LIMIT

    @property
    def count(self) -> int:
        return self.pending_count + self.unshipped_count


@dataclass(frozen=True)
class MarketRevenue:
    market: str
    currency: str
    orders: int
    total: Decimal


@dataclass(frozen=True)
class LeadTime:
    shipped_orders: int
    median_hours: Decimal | None
    p90_hours: Decimal | None


@dataclass(frozen=True)
class ReturnRate:
    returns: int
    delivered_orders: int
    rate_percent: Decimal | None  # None when nothing was delivered


@dataclass(frozen=True)
class LowStockItem:
    sku: str
    name: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    threshold: int
    on_order: str  # the open purchase order bringing more, if any


@dataclass(frozen=True)
class LowStock:
    count: int
    default_threshold: int
    uses_reorder_points: bool
    items: list[LowStockItem]  # least available first, at most LOW_STOCK_LIST_LIMIT


@dataclass(frozen=True)
class Summary:
    since: dt.datetime
    until: dt.datetime
    as_of: dt.datetime
    orders_by_status: dict[str, int]
    orders_total: int
    held_for_review: HeldForReview
    stuck_orders: StuckOrders
    revenue: list[MarketRevenue]
    lead_time: LeadTime
    returns: ReturnRate
    low_stock: LowStock


# --- helpers -------------------------------------------------------------------


def _minutes(delta: dt.timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def _quantize(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's
    percentile_cont): the median of [1, 2, 3, 4] is 2.5, its p90 3.7."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- the figures ---------------------------------------------------------------


RangeGroup = tuple[str, str, str, dt.date, int, Decimal]


def range_groups(period: DateRange) -> list[RangeGroup]:
    """Orders created in the range, counted and summed by (status, market,
    currency, UTC day): what orders_by_status, revenue_per_market and
    revenue_per_day are made of, in one read of the range's orders (pass it to
    each when more than one is needed)."""
    return list(
        Order.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .order_by()
        .values_list("status", "market__code", "currency", "day")
        .annotate(
            n=Count("pk"),
            total=Sum("total", output_field=DecimalField(max_digits=18, decimal_places=2)),
        )
    )


def orders_by_status(
    period: DateRange, *, groups: list[RangeGroup] | None = None
) -> dict[str, int]:
    """Orders created in the range, by current status; every status present."""
    counts = dict.fromkeys(OrderStatus.values, 0)
    for status, _market, _currency, _day, n, _total in (
        range_groups(period) if groups is None else groups
    ):
        counts[status] = counts.get(status, 0) + n
    return counts


def held_for_review(now: dt.datetime) -> HeldForReview:
    held = Order.objects.filter(status=OrderStatus.ON_HOLD)
    count = held.count()
    oldest = (
        held.annotate(since=Coalesce("held_at", "created_at"))
        .order_by("since", "pk")
        .values_list("number", "since")
        .first()
    )
    if oldest is None:
        return HeldForReview(count, None, None)
    return HeldForReview(count, _minutes(now - oldest[1]), oldest[0])


def stuck_orders(now: dt.datetime) -> StuckOrders:
    """`pending` longer than STUCK_PENDING_MINUTES (confirmation never ran), and
    `confirmed`/`processing` with nothing shipped STUCK_UNSHIPPED_HOURS after
    confirmation."""
    pending_minutes, unshipped_hours = stuck_pending_minutes(), stuck_unshipped_hours()
    pending = Order.objects.filter(
        status=OrderStatus.PENDING,
        created_at__lt=now - dt.timedelta(minutes=pending_minutes),
    ).annotate(stuck_since=F("created_at"))
    unshipped = Order.objects.filter(
        status__in=UNSHIPPED_STATUSES,
        shipped_at__isnull=True,
        confirmed_at__lt=now - dt.timedelta(hours=unshipped_hours),
    ).annotate(stuck_since=F("confirmed_at"))
    fields = ("pk", "number", "status", "market__code", "stuck_since")
    oldest = sorted(
        [
            *pending.order_by("stuck_since", "pk").values_list(*fields)[:STUCK_LIST_LIMIT],
            *unshipped.order_by("stuck_since", "pk").values_list(*fields)[:STUCK_LIST_LIMIT],
        ],
        key=lambda row: (row[4], row[0]),
    )[:STUCK_LIST_LIMIT]
    return StuckOrders(
        pending_count=pending.count(),
        pending_after_minutes=pending_minutes,
        unshipped_count=unshipped.count(),
        unshipped_after_hours=unshipped_hours,
        oldest=[
            StuckOrder(pk, number or "", status, market, since, _minutes(now - since))
            for pk, number, status, market, since in oldest
        ],
    )


def _revenue_groups(period: DateRange, groups: list[RangeGroup] | None) -> list[RangeGroup]:
    """The range's groups of orders that count as revenue (not cancelled)."""
    groups = range_groups(period) if groups is None else groups
    return [group for group in groups if group[0] != OrderStatus.CANCELLED]


def revenue_per_market(
    period: DateRange, *, groups: list[RangeGroup] | None = None
) -> list[MarketRevenue]:
    """Sum of `total` of the non-cancelled orders created in the range, per
    market and currency. Active markets without orders are listed at 0.00."""
    sums: dict[tuple[str, str], list] = {}
    for _status, code, currency, _day, n, total in _revenue_groups(period, groups):
        entry = sums.setdefault((code, currency), [0, ZERO])
        entry[0] += n
        entry[1] += total or ZERO
    revenue = {
        (code, currency): MarketRevenue(code, currency, n, _quantize(total))
        for (code, currency), (n, total) in sums.items()
    }
    seen_markets = {code for code, _ in revenue}
    for code, currency in Market.objects.filter(active=True).values_list("code", "currency"):
        if code not in seen_markets:
            revenue[(code, currency)] = MarketRevenue(code, currency, 0, ZERO)
    return sorted(revenue.values(), key=lambda r: (r.market, r.currency))


def revenue_per_day(
    period: DateRange,
    *,
    markets: list[MarketRevenue] | None = None,
    groups: list[RangeGroup] | None = None,
) -> dict[tuple[str, str], dict[dt.date, Decimal]]:
    """{(market, currency): {day: total}} for every UTC day of the range (0.00
    on days without orders); the dashboard draws one small chart per market.
    `markets` (revenue_per_market) and `groups` (range_groups) when the caller
    has them already."""
    groups = range_groups(period) if groups is None else groups
    days = period.days
    series: dict[tuple[str, str], dict[dt.date, Decimal]] = {}
    for market in revenue_per_market(period, groups=groups) if markets is None else markets:
        series[(market.market, market.currency)] = dict.fromkeys(days, ZERO)
    for _status, code, currency, day, _n, total in _revenue_groups(period, groups):
        per_day = series.setdefault((code, currency), dict.fromkeys(days, ZERO))
        per_day[day] = _quantize(per_day.get(day, ZERO) + (total or ZERO))
    return series


def lead_time(period: DateRange) -> LeadTime:
    """Hours from confirmation to the first shipment, for orders whose first
    shipment left in the range: median and 90th percentile."""
    pairs = Order.objects.filter(
        shipped_at__gte=period.since,
        shipped_at__lt=period.until,
        confirmed_at__isnull=False,
    ).values_list("confirmed_at", "shipped_at")
    hours = [max(0.0, (shipped - confirmed).total_seconds() / 3600) for confirmed, shipped in pairs]
    median, p90 = percentile(hours, 0.5), percentile(hours, 0.9)
    return LeadTime(
        shipped_orders=len(hours),
        median_hours=None if median is None else _quantize(median),
        p90_hours=None if p90 is None else _quantize(p90),
    )


def return_rate(period: DateRange) -> ReturnRate:
    """Return requests created in the range (every one, whatever became of it)
    as a percentage of the orders delivered in the range."""
    returns = ReturnRequest.objects.filter(
        created_at__gte=period.since, created_at__lt=period.until
    ).count()
    delivered = Order.objects.filter(
        delivered_at__gte=period.since, delivered_at__lt=period.until
    ).count()
    rate = None
    if delivered:
        rate = (Decimal(returns) * 100 / Decimal(delivered)).quantize(CENT, rounding=ROUND_HALF_UP)
    return ReturnRate(returns, delivered, rate)


def low_stock(limit: int = LOW_STOCK_LIST_LIMIT) -> LowStock:
    """Products running low in a warehouse, least available first.

    Where the inventory app has a reorder point for the product and warehouse,
    its own definition decides (`inventory.replenishment.low_stock_list`, the
    daily stock check's list: available at or below the reorder level, with
    the open purchase order bringing more). Every other stock level of an
    active product in an active warehouse is low at LOW_STOCK_DEFAULT
    available units or fewer."""
    default = low_stock_default()
    levels = StockLevel.objects.filter(product__active=True, warehouse__active=True).exclude(
        Exists(
            ReorderPoint.objects.filter(
                product=OuterRef("product"), warehouse=OuterRef("warehouse")
            )
        )
    )
    items = [
        LowStockItem(
            sku=item.sku,
            name=item.name,
            warehouse=item.warehouse,
            on_hand=item.on_hand,
            reserved=item.reserved,
            available=item.available,
            threshold=item.threshold,
            on_order=item.purchase_order,
        )
        for item in low_stock_list()
    ]
    fallback = levels.annotate(units=F("on_hand") - F("reserved")).filter(units__lte=default)
    rows = fallback.order_by("units", "product__sku", "warehouse__code").values_list(
        "product__sku", "product__name", "warehouse__code", "on_hand", "reserved", "units"
    )[:limit]
    count = len(items) + fallback.count()
    items += [
        LowStockItem(sku, name, warehouse, on_hand, reserved, units, default, "")
        for sku, name, warehouse, on_hand, reserved, units in rows
    ]
    items.sort(key=lambda item: (item.available, item.sku, item.warehouse))
    return LowStock(
        count=count,
        default_threshold=default,
        uses_reorder_points=True,
        items=items[:limit],
    )


def summary(
    period: DateRange,
    *,
    now: dt.datetime | None = None,
    groups: list[RangeGroup] | None = None,
) -> Summary:
    now = now or timezone.now()
    groups = range_groups(period) if groups is None else groups
    by_status = orders_by_status(period, groups=groups)
    return Summary(
        since=period.since,
        until=period.until,
        as_of=now,
        orders_by_status=by_status,
        orders_total=sum(by_status.values()),
        held_for_review=held_for_review(now),
        stuck_orders=stuck_orders(now),
        revenue=revenue_per_market(period, groups=groups),
        lead_time=lead_time(period),
        returns=return_rate(period),
        low_stock=low_stock(),
    )


# --- worker step timings (operations) ---------------------------------------------


def step_timings(period: DateRange) -> dict[str, dict]:
    """Worker step percentiles ({step: {"p50", "p90", "p99", "count"}})."""
    return timing_percentiles(since=period.since, until=period.until)
