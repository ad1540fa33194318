"""Placing an order: validate, price, reserve and write in one transaction.

Query budget is constant in the number of lines: products, prices and stock
are fetched for all lines at once, and lines, reservations and ledger rows are
bulk-inserted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from core.errors import ValidationFailed, detail
from inventory.errors import InsufficientStock
from inventory.models import Product, ProductPrice
from inventory.services import ReserveRequest, stock_reserve
from operations.services import timing_record
from payments.gateways.registry import gateway_for
from payments.services import payment_create

from ..models import (
    CustomerProfile,
    Market,
    Order,
    OrderLine,
    OrderSource,
    OrderStatus,
    PromoCode,
    PromoRedemption,
    ShippingMethod,
)
from .events import order_event_record
from .pricing import Totals, compute_totals

KNOWN_PAYMENT_METHODS = {"card", "upi", "cod"}
TOKEN_METHODS = {"card", "upi"}
PLACE_FAILED = "The order could not be placed."


@dataclass(frozen=True)
class OrderItemInput:
    sku: str
    quantity: int


def _fail(details: list[dict]) -> ValidationFailed:
    return ValidationFailed(PLACE_FAILED, details=details)


def _get_market(code: str) -> Market:
    market = Market.objects.filter(code=code.upper(), active=True).first()
    if market is None:
        raise _fail([detail("market", "MARKET_NOT_FOUND", f"No market {code!r}.")])
    return market


def _products_by_sku(skus: list[str], market: Market) -> dict[str, Product]:
    price = ProductPrice.objects.filter(product=OuterRef("pk"), market_code=market.code).values(
        "amount"
    )[:1]
    return {
        p.sku: p
        for p in Product.objects.filter(sku__in=skus).annotate(market_price=Subquery(price))
    }


def _check_items(items: list[OrderItemInput], products: dict[str, Product]) -> list[dict]:
    details, seen = [], set()
    for i, item in enumerate(items):
        field = f"items[{i}].sku"
        product = products.get(item.sku)
        if item.sku in seen:
            details.append(detail(field, "DUPLICATE_ITEM", f"{item.sku} appears more than once."))
        elif product is None:
            details.append(detail(field, "PRODUCT_NOT_FOUND", f"No product {item.sku}."))
        elif not product.active or product.market_price is None:
            details.append(
                detail(field, "PRODUCT_UNAVAILABLE", f"{item.sku} is not sold in this market.")
            )
        seen.add(item.sku)
    return details


def _check_payment(market: Market, method: str, token: str) -> list[dict]:
    if method == "cod":
        if "cod" not in market.payment_methods:
            return [
                detail(
                    "payment_method", "COD_NOT_AVAILABLE", "Cash on delivery is not offered here."
                )
            ]
        return []
    if method not in KNOWN_PAYMENT_METHODS or method not in market.payment_methods:
        return [
            detail(
                "payment_method", "INVALID_PAYMENT", f"{method!r} is not offered in {market.code}."
            )
        ]
    if method in TOKEN_METHODS and not token:
        return [detail("payment_token", "INVALID_PAYMENT", "A payment token is required.")]
    return []


def _get_shipping_method(market: Market, code: str) -> ShippingMethod | None:
    return ShippingMethod.objects.filter(market=market, code=code, active=True).first()


def _check_promo(
    code: str, *, market: Market, customer, subtotal: Decimal
) -> tuple[PromoCode | None, list[dict]]:
    promo = PromoCode.objects.filter(code=code.strip().upper()).first()
    now = timezone.now()
    field = "promo_code"
    if promo is None or not promo.active or (promo.market_id and promo.market_id != market.pk):
        return None, [detail(field, "PROMO_INVALID", f"{code!r} is not a valid promo code here.")]
    if promo.valid_from and promo.valid_from > now:
        return None, [detail(field, "PROMO_INVALID", f"{promo.code} is not valid yet.")]
    if promo.valid_to and promo.valid_to < now:
        return None, [detail(field, "PROMO_EXPIRED", f"{promo.code} has expired.")]
    if promo.max_uses is not None and promo.times_used >= promo.max_uses:
        return None, [detail(field, "PROMO_EXHAUSTED", f"{promo.code} has been used up.")]
    if (
        promo.max_uses_per_customer is not None
        and _customer_uses(promo, customer) >= promo.max_uses_per_customer
    ):
        return None, [detail(field, "PROMO_EXHAUSTED", f"You have already used {promo.code}.")]
    if subtotal < promo.min_subtotal:
        return None, [
            detail(
                field,
                "PROMO_MINIMUM_NOT_MET",
                f"{promo.code} needs a subtotal of at least {promo.min_subtotal}.",
            )
        ]
    return promo, []


def _customer_uses(promo: PromoCode, customer) -> int:
    return (
        PromoRedemption.objects.filter(promo=promo, customer=customer)
        .exclude(order__status=OrderStatus.CANCELLED)
        .count()
    )


def _redeem_promo(promo: PromoCode, *, customer, order: Order) -> None:
    """Count the use under the promo's row lock, so caps hold under concurrency."""
    used = (
        PromoCode.objects.filter(pk=promo.pk)
        .filter(Q(max_uses__isnull=True) | Q(times_used__lt=F("max_uses")))
        .update(times_used=F("times_used") + 1)
    )
    exhausted = not used or (
        promo.max_uses_per_customer is not None
        and _customer_uses(promo, customer) >= promo.max_uses_per_customer
    )
    if exhausted:
        raise _fail([detail("promo_code", "PROMO_EXHAUSTED", f"{promo.code} has been used up.")])
    PromoRedemption.objects.create(promo=promo, customer=customer, order=order)


def _is_tax_exempt(customer) -> bool:
    return CustomerProfile.objects.filter(user=customer, tax_exempt=True).exists()


def assign_number(order: Order) -> None:
    """Public numbers come from the primary key, so concurrent orders never
    contend on a counter row: `US-000123`."""
    order.number = f"{order.market.code}-{order.pk:06d}"
    Order.objects.filter(pk=order.pk).update(number=order.number)


@transaction.atomic
def _write_order(
    *,
    customer,
    market: Market,
    items: list[OrderItemInput],
    products: dict[str, Product],
    totals: Totals,
    promo: PromoCode | None,
    tax_exempt: bool,
    fields: dict,
    payment_token: str,
    actor,
) -> Order:
    order = Order.objects.create(
        customer=customer,
        market=market,
        currency=market.currency,
        subtotal=totals.subtotal,
        discount=totals.discount,
        shipping=totals.shipping,
        tax=totals.tax,
        total=totals.total,
        tax_rate=market.tax_rate,
        prices_include_tax=market.prices_include_tax,
        tax_exempt=tax_exempt,
        promo=promo,
        promo_code=promo.code if promo else "",
        **fields,
    )
    assign_number(order)
    if promo is not None:
        _redeem_promo(promo, customer=customer, order=order)
    lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product=products[item.sku],
                sku=item.sku,
                name=products[item.sku].name,
                quantity=item.quantity,
                unit_price=products[item.sku].market_price,
                line_total=products[item.sku].market_price * item.quantity,
            )
            for item in items
        ]
    )
    try:
        stock_reserve(
            market_code=market.code,
            requests=[ReserveRequest(line.pk, line.product_id, line.quantity) for line in lines],
            expires_at=timezone.now() + timedelta(minutes=settings.RESERVATION_TTL_MINUTES),
            actor=actor,
            reference=order.number,
        )
    except InsufficientStock as exc:
        raise _fail(
            [
                detail(
                    f"items[{i}].quantity",
                    "INSUFFICIENT_STOCK",
                    f"Only {exc.shortages[line.product_id]} left of {line.sku}.",
                )
                for i, line in enumerate(lines)
                if line.product_id in exc.shortages
            ]
        ) from exc
    payment_create(
        order=order,
        method=order.payment_method,
        token=payment_token,
        amount=order.total,
        currency=order.currency,
        gateway=gateway_for(market.code, order.payment_method).name,
    )
    order_event_record(
        order=order, from_status="", to_status=OrderStatus.PENDING, actor=actor, reason="placed"
    )
    _enqueue_confirmation(order)
    # The lines just written are the order's lines: spare the serializer a query.
    order._prefetched_objects_cache = {"lines": OrderLine.objects.none()}
    order._prefetched_objects_cache["lines"]._result_cache = lines
    return order


def _enqueue_confirmation(order: Order) -> None:
    from ..tasks import order_confirm  # tasks import services; import late to avoid the cycle

    order_confirm.delay_on_commit(order.pk)


def order_place(
    *,
    customer,
    market_code: str,
    items: list[OrderItemInput],
    shipping_method: str,
    shipping_address: dict,
    payment_method: str,
    payment_token: str = "",
    promo_code: str = "",
    expected_total: Decimal | None = None,
    source: str = OrderSource.API,
    channel: str = "",
    client_ip: str | None = None,
    user_agent: str = "",
    actor=None,
) -> Order:
    """Validate, price, reserve stock and write a `pending` order with its audit
    row, all in one transaction; confirmation is enqueued on commit. Raises
    ValidationFailed with every API.md detail code that applies."""
    actor = actor or customer
    started = time.perf_counter()
    market = _get_market(market_code)
    products = _products_by_sku([item.sku for item in items], market)
    details = _check_items(items, products)
    details += _check_payment(market, payment_method, payment_token)
    method = _get_shipping_method(market, shipping_method)
    if method is None:
        details.append(
            detail(
                "shipping_method",
                "SHIPPING_METHOD_NOT_FOUND",
                f"No shipping method {shipping_method!r}.",
            )
        )
    if details:
        raise _fail(details)

    priced = [(products[item.sku].market_price, item.quantity) for item in items]
    subtotal = sum((price * qty for price, qty in priced), Decimal("0"))
    promo = None
    if promo_code:
        promo, promo_errors = _check_promo(
            promo_code, market=market, customer=customer, subtotal=subtotal
        )
        if promo_errors:
            raise _fail(promo_errors)
    tax_exempt = _is_tax_exempt(customer)
    totals = compute_totals(
        lines=priced,
        tax_rate=market.tax_rate,
        prices_include_tax=market.prices_include_tax,
        shipping_price=method.price,
        free_over=method.free_over,
        promo_kind=promo.kind if promo else None,
        promo_value=promo.value if promo else None,
        tax_exempt=tax_exempt,
    )
    if payment_method == "cod" and market.cod_limit is not None and totals.total > market.cod_limit:
        details.append(
            detail(
                "payment_method",
                "COD_NOT_AVAILABLE",
                f"Cash on delivery is limited to {market.cod_limit}.",
            )
        )
    if expected_total is not None and expected_total != totals.total:
        details.append(
            detail(
                "expected_total",
                "AMOUNT_MISMATCH",
                f"The total is {totals.total}, not {expected_total}.",
            )
        )
    if details:
        raise _fail(details)

    fields = {
        "shipping_method": method.code,
        "shipping_address": shipping_address,
        "payment_method": payment_method,
        "source": source,
        "channel": channel,
        "client_ip": client_ip,
        "user_agent": user_agent[:512],
    }
    validated_ms = (time.perf_counter() - started) * 1000
    order = _write_order(
        customer=customer,
        market=market,
        items=items,
        products=products,
        totals=totals,
        promo=promo,
        tax_exempt=tax_exempt,
        fields=fields,
        payment_token=payment_token,
        actor=actor,
    )
    timing_record(order_id=order.pk, step="validation", milliseconds=validated_ms)
    return order
