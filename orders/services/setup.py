"""Setting up what orders are placed against: markets with their shipping
methods, and promo codes. Idempotent upserts for seed_demo and ops scripts."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from ..models import Market, PromoCode, ShippingMethod


@transaction.atomic
def market_upsert(
    *, code: str, shipping: list[tuple[str, str, Decimal, Decimal | None]], **fields
) -> Market:
    """Create or update an active market and its shipping methods, given as
    (code, name, price, free_over)."""
    market, _ = Market.objects.update_or_create(code=code, defaults={**fields, "active": True})
    for method_code, name, price, free_over in shipping:
        ShippingMethod.objects.update_or_create(
            market=market,
            code=method_code,
            defaults={"name": name, "price": price, "free_over": free_over},
        )
    return market


def promo_upsert(*, code: str, **fields) -> PromoCode:
    promo, _ = PromoCode.objects.update_or_create(code=code, defaults={**fields, "active": True})
    return promo
