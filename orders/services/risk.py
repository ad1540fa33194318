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
    if not order.items_fingerprint:
        return False  # written before fingerprints: nothing to compare it by
    since = order.created_at - timedelta(minutes=settings.RISK_DUPLICATE_WINDOW_MINUTES)
    # The customer's recent orders with the same fingerprint, found on the
    # (customer, created_at) index; the exact comparison then runs on those few
    # (a digest match is a duplicate in all but name).
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
    # Counted up to a cap, so a customer with thousands of open orders (a
    # reseller, a marketplace account) costs no more to confirm than anyone else.
    cap = max(settings.RISK_VELOCITY_OPEN_ORDERS, VELOCITY_COUNT_CAP)
    open_orders = (
        Order.objects.filter(customer_id=order.customer_id, status__in=OPEN_STATUSES)
        .exclude(pk=order.pk)[: cap + 1]
        .count()
    )
    if open_orders >= settings.RISK_VELOCITY_OPEN_ORDERS:
        counted = f"more than {cap}" if open_orders > cap else str(open_orders)
        result.add("velocity", 40, f"The customer has {counted} other open orders.")
    if _duplicate_exists(order):
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
