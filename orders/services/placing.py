"""Placing an order from the customer API: validate (every API.md detail code),
price, then write it through `order_write` (one transaction) and queue its
confirmation.

Query budget is constant in the number of lines: products, prices and stock
are fetched for all lines at once, and lines, reservations and ledger rows are
bulk-inserted."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from core.errors import ValidationFailed, detail
from inventory.errors import InsufficientStock

from ..models import Market, Order, OrderSource, PromoCode
from .pricing import compute_totals
from .writing import (
    PLACE_FAILED,
    NewLine,
    NewPayment,
    OrderItemInput,
    customer_is_tax_exempt,
    items_check,
    market_get,
    order_enqueue_confirmation,
    order_write,
    products_by_sku,
    promo_customer_uses,
    shipping_method_get,
    stock_shortage_failure,
)

KNOWN_PAYMENT_METHODS = {"card", "upi", "cod"}
TOKEN_METHODS = {"card", "upi"}


def _fail(details: list[dict]) -> ValidationFailed:
    return ValidationFailed(PLACE_FAILED, details=details)


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
        and promo_customer_uses(promo, customer) >= promo.max_uses_per_customer
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
    market = market_get(market_code)
    products = products_by_sku([item.sku for item in items], market)
    details = items_check(items, products)
    details += _check_payment(market, payment_method, payment_token)
    method = shipping_method_get(market, shipping_method)
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
    tax_exempt = customer_is_tax_exempt(customer)
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
    lines = [
        NewLine(
            product=products[item.sku],
            quantity=item.quantity,
            unit_price=products[item.sku].market_price,
            line_total=products[item.sku].market_price * item.quantity,
        )
        for item in items
    ]
    try:
        order = order_write(
            customer=customer,
            market=market,
            lines=lines,
            totals=totals,
            promo=promo,
            tax_exempt=tax_exempt,
            fields=fields,
            actor=actor,
            reservation_expires_at=timezone.now()
            + timedelta(minutes=settings.RESERVATION_TTL_MINUTES),
            payment=NewPayment(token=payment_token),
        )
    except InsufficientStock as exc:
        raise stock_shortage_failure(exc, lines) from exc
    order_enqueue_confirmation(order, validation_ms=validated_ms)
    return order
