from __future__ import annotations

from django.db.models import F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Product, ProductPrice, StockLevel, Warehouse


def _available_in(market_code: str | None):
    levels = StockLevel.objects.filter(product=OuterRef("pk"), warehouse__active=True)
    if market_code:
        levels = levels.filter(warehouse__markets__market_code=market_code)
    total = (
        levels.values("product")
        .annotate(units=Sum(F("on_hand") - F("reserved")))
        .values("units")[:1]
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def product_list(
    *, market_code: str | None = None, search: str = "", include_inactive: bool = False
) -> QuerySet:
    """Products with `market_price` and `available` (sellable units) annotated.
    With a market, only products sold there (priced there) are listed."""
    qs = Product.objects.all()
    if not include_inactive:
        qs = qs.filter(active=True)
    if search:
        qs = qs.filter(name__icontains=search) | qs.filter(sku__icontains=search)
    if market_code:
        price = ProductPrice.objects.filter(product=OuterRef("pk"), market_code=market_code).values(
            "amount"
        )[:1]
        qs = qs.annotate(market_price=Subquery(price)).filter(market_price__isnull=False)
    return (
        qs.annotate(available=_available_in(market_code)).prefetch_related("prices").order_by("sku")
    )


def warehouse_list() -> QuerySet[Warehouse]:
    return Warehouse.objects.prefetch_related("markets").order_by("priority", "code")


def stock_list(*, sku: str = "") -> QuerySet[StockLevel]:
    qs = StockLevel.objects.select_related("product", "warehouse").order_by(
        "product__sku", "warehouse__priority"
    )
    return qs.filter(product__sku=sku) if sku else qs
