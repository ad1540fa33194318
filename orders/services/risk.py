"""Explainable risk scoring: each rule adds points with a reason a reviewer
can read. Score ≥ RISK_HOLD_SCORE, or any "always holds" rule, holds the
order for review. Reads only; the confirm service stores the result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ..models import CustomerProfile, Order, OrderStatus

VELOCITY_COUNT_CAP = 100
OPEN_STATUSES = [
    OrderStatus.PENDING,
    OrderStatus.ON_HOLD,
    OrderStatus.CONFIRMED,
    OrderStatus.PROCESSING,
]


@dataclass
class RiskAssessment:
    score: int = 0
    reasons: list[dict] = field(default_factory=list)
    always_hold: bool = False
    trusted_bypass: bool = False

    def add(self, rule: str, points: int, reason: str, *, always_hold: bool = False) -> None:
        self.score = min(100, self.score + points)
        self.reasons.append(
            {"rule": rule, "points": points, "reason": reason, "always_hold": always_hold}
        )
        self.always_hold = self.always_hold or always_hold

    @property
    def hold(self) -> bool:
        if self.trusted_bypass:
            return False
        return self.always_hold or self.score >= settings.RISK_HOLD_SCORE


def order_fingerprint(shipping_address: dict, items: Iterable[tuple[str, int]]) -> str:
    """What makes two orders duplicates of each other, as one short string: the
    same shipping address and the same lines (SKU and quantity, in any order)."""
    canonical = json.dumps(
        [shipping_address, sorted([sku, quantity] for sku, quantity in items)],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _items_signature(order: Order) -> list[tuple[str, int]]:
    return sorted((line.sku, line.quantity) for line in order.lines.all())


def _duplicate_exists(order: Order) -> bool:
    """Whether a recent order of the customer's (found by `_recent_orders`
    with the same fingerprint) has the same address and lines: the exact
    comparison behind the digest's (a digest match is a duplicate in all but
    name)."""
    since = order.created_at - timedelta(minutes=settings.RISK_DUPLICATE_WINDOW_MINUTES)
    candidates = (
        Order.objects.filter(
            customer_id=order.customer_id,
            created_at__gte=since,
            created_at__lte=order.created_at,
            items_fingerprint=order.items_fingerprint,
        )
        .exclude(pk=order.pk)
        .exclude(status=OrderStatus.CANCELLED)
        .prefetch_related("lines")
    )
    signature = None
    for other in candidates:
        signature = signature or _items_signature(order)
        if (
            other.shipping_address == order.shipping_address
            and _items_signature(other) == signature
        ):
            return True
    return False


def _recent_orders(order: Order, *, cap: int) -> tuple[int, bool]:
    """The customer's other open orders (counted up to `cap` + 1, so a reseller
    with thousands costs no more than anyone) and whether one of their recent
    orders has this order's fingerprint: one statement on every confirmation,
    found on the (customer, status) and (customer, created_at) indexes."""
    # None matches nothing: an order written before fingerprints has nothing to compare by.
    fingerprint = order.items_fingerprint or None
    since = order.created_at - timedelta(minutes=settings.RISK_DUPLICATE_WINDOW_MINUTES)
    adapt = connection.ops.adapt_datetimefield_value
    params = [order.customer_id, *OPEN_STATUSES, order.pk, cap + 1]
    params += [order.customer_id, adapt(since), adapt(order.created_at), fingerprint, order.pk]
    params.append(OrderStatus.CANCELLED)
    with connection.cursor() as cursor:
        cursor.execute(_RECENT_ORDERS, params)
        open_orders, same_fingerprint = cursor.fetchone()
    return open_orders, bool(same_fingerprint)


_RECENT_ORDERS = (
    "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE customer_id = %s"
    " AND status IN ({open}) AND id <> %s LIMIT %s) open_orders),"
    " EXISTS (SELECT 1 FROM {table} WHERE customer_id = %s AND created_at >= %s"
    " AND created_at <= %s AND items_fingerprint = %s AND id <> %s AND status <> %s)"
).format(table=Order._meta.db_table, open=", ".join(["%s"] * len(OPEN_STATUSES)))


def _is_trusted(customer) -> bool:
    # The confirmation step reads the profile with the order (select_related).
    try:
        return customer.profile.trusted
    except CustomerProfile.DoesNotExist:
        return False


def risk_assess(*, order: Order, gateway_risk: int | None) -> RiskAssessment:
    market = order.market
    result = RiskAssessment()
    if order.total > market.review_amount:
        result.add(
            "amount_over_review",
            50,
            f"Total {order.total} {order.currency} is above the review amount {market.review_amount}.",
            always_hold=True,
        )
    if (
        order.payment_method == "cod"
        and market.cod_review_amount is not None
        and order.total > market.cod_review_amount
    ):
        result.add(
            "cod_over_threshold",
            30,
            f"Cash on delivery above {market.cod_review_amount} {order.currency}.",
        )
    if gateway_risk is not None and gateway_risk >= settings.RISK_GATEWAY_HIGH:
        result.add(
            "gateway_risk", 80, f"The payment gateway rated this payment {gateway_risk}/100 risky."
        )
    cap = max(settings.RISK_VELOCITY_OPEN_ORDERS, VELOCITY_COUNT_CAP)
    open_orders, same_fingerprint = _recent_orders(order, cap=cap)
    if open_orders >= settings.RISK_VELOCITY_OPEN_ORDERS:
        counted = f"more than {cap}" if open_orders > cap else str(open_orders)
        result.add("velocity", 40, f"The customer has {counted} other open orders.")
    if same_fingerprint and _duplicate_exists(order):
        result.add(
            "duplicate",
            50,
            f"Same items and address as another order in the last {settings.RISK_DUPLICATE_WINDOW_MINUTES} minutes.",
        )
    country = (order.shipping_address or {}).get("country", "")
    if country and country.upper() != market.country.upper():
        result.add("foreign_address", 40, f"Ships to {country}, outside the {market.code} market.")
    customer = order.customer
    account_age = timezone.now() - customer.date_joined
    large = market.review_amount * Decimal(str(settings.RISK_NEW_ACCOUNT_LARGE_SHARE))
    if account_age < timedelta(days=settings.RISK_NEW_ACCOUNT_DAYS) and order.total >= large:
        first = not Order.objects.filter(
            customer_id=order.customer_id, created_at__lt=order.created_at
        ).exists()
        if first:
            result.add(
                "new_account_large_order",
                35,
                f"First order of a {account_age.days}-day-old account is large.",
            )
    trusted = _is_trusted(customer)
    cap = market.review_amount * Decimal(str(settings.RISK_TRUSTED_CAP_FACTOR))
    if trusted and order.total <= cap and result.reasons:
        result.trusted_bypass = True
        result.reasons.append(
            {
                "rule": "trusted_customer",
                "points": 0,
                "reason": f"Trusted customer, below the cap of {cap}.",
                "always_hold": False,
            }
        )
    return result
