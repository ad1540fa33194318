"""Writing a new order: the one service that creates an order row, its lines,
the stock reservation, the payment and the "placed" audit row, in one
transaction. The customer API (`placing`), marketplace imports
(`channels.services`) and exchange replacements (`replacing`) each decide what
to write (prices, totals, payment) and call `order_write`; none writes those
rows itself. The lookups they share for checking a request come first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Q

from core.errors import ValidationFailed, detail
from core.sql import columns, next_ids, select_models, write_together
from inventory.errors import InsufficientStock
from inventory.models import Product, ProductPrice
from inventory.services import ReserveRequest, stock_plan_reservation
from payments.gateways.registry import gateway_for
from payments.services import payment_build

from ..models import (
    CustomerProfile,
    Market,
    Order,
    OrderLine,
    OrderStatus,
    PromoCode,
    PromoRedemption,
    ShippingMethod,
)
from ..selectors import order_lines_attach
from .events import order_event_build
from .pricing import Totals
from .risk import order_fingerprint

PLACE_FAILED = "The order could not be placed."


@dataclass(frozen=True)
class OrderItemInput:
    sku: str
    quantity: int


@dataclass(frozen=True)
class NewLine:
    """A line as it is frozen on the order."""

    product: Product
    quantity: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class NewPayment:
    """The payment to create with the order (none: nothing is owed)."""

    token: str = ""


# --- lookups shared by everything that writes an order -----------------------------------------


# The lookups below run on every order placed; they are plain SQL because the
# ORM's compile of each cost more than the statement. The placing tests hold
# their answers (every detail code) as the ORM gave them.


def market_get(code: str) -> Market:
    market = next(iter(select_models(_MARKET, [code.upper(), True], Market)), None)
    if market is None:
        raise ValidationFailed(
            PLACE_FAILED, details=[detail("market", "MARKET_NOT_FOUND", f"No market {code!r}.")]
        )
    return market


_MARKET = (
    f"SELECT {columns(Market, 'm')} FROM {Market._meta.db_table} m WHERE code = %s AND active = %s"
)


def products_by_sku(skus: list[str], market: Market) -> dict[str, Product]:
    """Products by SKU, each with `market_price` (None when not sold in `market`)."""
    if not skus:
        return {}
    sql = _PRODUCTS.format(skus=", ".join(["%s"] * len(skus)))
    products = select_models(sql, [market.code, *skus], Product, extra=["market_price"])
    amount = ProductPrice._meta.get_field("amount")
    found = {}
    for product in products:
        if product.market_price is not None:  # a Decimal, whatever the database returned
            product.market_price = amount.to_python(product.market_price)
        found[product.sku] = product
    return found


_PRODUCTS = (
    f"SELECT {columns(Product, 'p')}, (SELECT pp.amount FROM {ProductPrice._meta.db_table} pp WHERE pp.product_id = p.id "
    f"AND pp.market_code = %s LIMIT 1) AS market_price FROM {Product._meta.db_table} p WHERE p.sku IN ({{skus}})"
)


def items_check(items: list[OrderItemInput], products: dict[str, Product]) -> list[dict]:
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


def shipping_method_get(market: Market, code: str) -> ShippingMethod | None:
    found = select_models(_SHIPPING_METHOD, [market.pk, code, True], ShippingMethod)
    return next(iter(found), None)


_SHIPPING_METHOD = (
    f"SELECT {columns(ShippingMethod, 'm')} FROM {ShippingMethod._meta.db_table} m "
    "WHERE market_id = %s AND code = %s AND active = %s ORDER BY id LIMIT 1"
)


def customer_is_tax_exempt(customer) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_TAX_EXEMPT, [customer.pk, True])
        return cursor.fetchone() is not None


_TAX_EXEMPT = (
    f"SELECT 1 FROM {CustomerProfile._meta.db_table} WHERE user_id = %s AND tax_exempt = %s"
)


def promo_customer_uses(promo: PromoCode, customer) -> int:
    return (
        PromoRedemption.objects.filter(promo=promo, customer=customer)
        .exclude(order__status=OrderStatus.CANCELLED)
        .count()
    )


def stock_shortage_failure(exc: InsufficientStock, lines: list[NewLine]) -> ValidationFailed:
    """INSUFFICIENT_STOCK on each item (in request order) that is short."""
    return ValidationFailed(
        PLACE_FAILED,
        details=[
            detail(
                f"items[{i}].quantity",
                "INSUFFICIENT_STOCK",
                f"Only {exc.shortages[line.product.pk]} left of {line.product.sku}.",
            )
            for i, line in enumerate(lines)
            if line.product.pk in exc.shortages
        ],
    )


# --- the write ----------------------------------------------------------------------------------


def _redeem_promo(promo: PromoCode, *, customer, order: Order) -> None:
    """Count the use under the promo's row lock, so caps hold under concurrency."""
    used = (
        PromoCode.objects.filter(pk=promo.pk)
        .filter(Q(max_uses__isnull=True) | Q(times_used__lt=F("max_uses")))
        .update(times_used=F("times_used") + 1)
    )
    exhausted = not used or (
        promo.max_uses_per_customer is not None
        and promo_customer_uses(promo, customer) >= promo.max_uses_per_customer
    )
    if exhausted:
        raise ValidationFailed(
            PLACE_FAILED,
            details=[detail("promo_code", "PROMO_EXHAUSTED", f"{promo.code} has been used up.")],
        )
    PromoRedemption.objects.create(promo=promo, customer=customer, order=order)


def _number(market: Market, order_id: int) -> str:
    """Public numbers come from the primary key, so concurrent orders never
    contend on a counter row: `US-000123`."""
    return f"{market.code}-{order_id:06d}"


# No savepoint of its own: an error here marks the caller's transaction for
# rollback, which every caller wants anyway (placing) or catches at a savepoint
# of its own (marketplace imports, replacement orders); one here would only
# cost two round trips per order.
@transaction.atomic(savepoint=False)
def order_write(
    *,
    customer,
    market: Market,
    lines: list[NewLine],
    totals: Totals,
    fields: dict,
    actor,
    reservation_expires_at: datetime | None,
    payment: NewPayment | None,
    promo: PromoCode | None = None,
    tax_exempt: bool = False,
    reason: str = "placed",
) -> Order:
    """Write a `pending` order: the row and its number, the promo redemption,
    the lines, the stock reservation, the payment and the audit row. `fields`
    carries the rest of the order's columns (shipping, payment method, source)
    and may override the market's currency and tax terms.
    Raises InsufficientStock (the caller's transaction is then rolled back:
    nothing stays written); `stock_shortage_failure` turns it into the API's
    detail codes.

    On PostgreSQL the order's and its lines' keys are drawn first, so that
    everything but the stock levels' lock and the promo's count is written in
    one statement (`write_together`); elsewhere the order and its lines are
    inserted first, for their keys."""
    order = Order(
        **{
            "customer": customer,
            "market": market,
            "currency": market.currency,
            "subtotal": totals.subtotal,
            "discount": totals.discount,
            "shipping": totals.shipping,
            "tax": totals.tax,
            "total": totals.total,
            "tax_rate": market.tax_rate,
            "prices_include_tax": market.prices_include_tax,
            "tax_exempt": tax_exempt,
            "promo": promo,
            "promo_code": promo.code if promo else "",
            **fields,
            "items_fingerprint": order_fingerprint(
                fields["shipping_address"], [(line.product.sku, line.quantity) for line in lines]
            ),
        }
    )
    order_lines = [
        OrderLine(
            order=order,
            product=line.product,
            sku=line.product.sku,
            name=line.product.name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            line_total=line.line_total,
        )
        for line in lines
    ]
    ids = next_ids((Order, 1), (OrderLine, len(order_lines)))
    if ids is not None:
        order.pk = ids[0][0]
        for order_line, pk in zip(order_lines, ids[1], strict=True):
            order_line.pk = pk
        order.number = _number(market, order.pk)
        written = [[order], order_lines]
    else:
        order.save()
        order.number = _number(market, order.pk)
        Order.objects.filter(pk=order.pk).update(number=order.number)
        OrderLine.objects.bulk_create(order_lines)
        written = []
    if promo is not None:
        _redeem_promo(promo, customer=customer, order=order)
    stock = stock_plan_reservation(
        market_code=market.code,
        requests=[ReserveRequest(ol.pk, ol.product_id, ol.quantity) for ol in order_lines],
        expires_at=reservation_expires_at,
        actor=actor,
        reference=order.number,
    )
    if payment is not None:
        written.append(
            [
                payment_build(
                    order=order,
                    method=order.payment_method,
                    token=payment.token,
                    amount=order.total,
                    currency=order.currency,
                    gateway=gateway_for(market.code, order.payment_method).name,
                )
            ]
        )
    event = order_event_build(
        order=order, from_status="", to_status=OrderStatus.PENDING, actor=actor, reason=reason
    )
    writes = stock.writes()
    write_together(updates=writes["updates"], inserts=[*written, *writes["inserts"], [event]])
    # The lines just written are the order's lines, and a new order has no
    # holds: spare the serializer two queries.
    order_lines_attach(order, order_lines)
    order.active_holds = []
    return order


def order_enqueue_confirmation(order: Order, *, validation_ms: float | None = None) -> None:
    """Queue the confirmation step once the order's transaction commits. The
    worker records `validation_ms` (how long checking the request took) with its
    own timings, so the placing request writes no timing row of its own."""
    from ..tasks import order_confirm  # tasks import services; import late to avoid the cycle

    if validation_ms is None:
        order_confirm.delay_on_commit(order.pk)
    else:
        order_confirm.delay_on_commit(order.pk, validation_ms=round(validation_ms, 3))
