"""Opening a return: the customer's request, checked against what was
delivered, the market's window and every other return of the order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, F, IntegerField, Sum, When
from django.utils import timezone

from core.errors import ValidationFailed, detail
from inventory.models import Product, ProductPrice
from orders.models import RETURNABLE, Order, OrderLine, OrderStatus
from orders.selectors import order_list
from orders.services.locking import order_lock

from .. import errors as codes
from ..models import CLOSED_WITHOUT_GOODS, ReturnLine, ReturnRequest, ReturnStatus
from .common import return_event_record

CREATE_FAILED = "The return could not be opened."

# A fully returned order was delivered too: asking for more of it is answered
# per item (RETURN_QUANTITY_EXCEEDED), not as an order that was never delivered.
OPEN_TO_RETURNS = [*RETURNABLE, OrderStatus.RETURNED]


@dataclass(frozen=True)
class ReturnItemInput:
    sku: str
    quantity: int
    replacement_sku: str = ""


def _fail(details: list[dict]) -> ValidationFailed:
    return ValidationFailed(CREATE_FAILED, details=details)


def units_held_by_returns(order: Order) -> dict[int, int]:
    """Units of each order line already claimed by a return that still counts
    (anything not rejected or cancelled): what was received once a return has
    been received, what was asked for until then."""
    rows = (
        ReturnLine.objects.filter(order_line__order=order)
        .exclude(return_request__status__in=CLOSED_WITHOUT_GOODS)
        .values("order_line_id")
        .annotate(
            units=Sum(
                Case(
                    When(
                        return_request__received_at__isnull=False,
                        then=F("quantity_resellable") + F("quantity_damaged"),
                    ),
                    default=F("quantity"),
                    output_field=IntegerField(),
                )
            )
        )
    )
    return {row["order_line_id"]: row["units"] or 0 for row in rows}


def _check_order(order: Order) -> None:
    if order.status not in OPEN_TO_RETURNS:
        why = "was cancelled" if order.status == OrderStatus.CANCELLED else "is not delivered yet"
        raise _fail([detail("order", codes.ORDER_NOT_RETURNABLE, f"Order {order.number} {why}.")])
    # Counted from delivery; an order without a recorded delivery time cannot be
    # shown to be out of its window, so it is not refused for that.
    if order.delivered_at is not None:
        closes = order.delivered_at + timedelta(days=order.market.return_window_days)
        if timezone.now() > closes:
            raise _fail(
                [
                    detail(
                        "order",
                        codes.RETURN_WINDOW_EXPIRED,
                        f"Returns for {order.number} closed on {closes.date().isoformat()}.",
                    )
                ]
            )


def _replacement_products(items: list[ReturnItemInput], market_code: str) -> dict[str, Product]:
    skus = {i.replacement_sku for i in items if i.replacement_sku}
    products = Product.objects.filter(sku__in=skus)
    prices = dict(
        ProductPrice.objects.filter(product__in=products, market_code=market_code).values_list(
            "product_id", "amount"
        )
    )
    for product in products:
        product.market_price = prices.get(product.pk)
    return {p.sku: p for p in products}


def _check_replacement(
    i: int, item: ReturnItemInput, line: OrderLine, products: dict[str, Product]
) -> list[dict]:
    field = f"items[{i}].replacement_sku"
    if not item.replacement_sku or item.replacement_sku == line.sku:
        return []
    product = products.get(item.replacement_sku)
    if product is None or not product.active or product.market_price is None:
        return [
            detail(
                field,
                codes.REPLACEMENT_UNAVAILABLE,
                f"{item.replacement_sku} is not sold in this market.",
            )
        ]
    # An exchange is like for like: another SKU only at the price that was paid.
    if product.market_price != line.unit_price:
        return [
            detail(
                field,
                codes.REPLACEMENT_PRICE_MISMATCH,
                f"{product.sku} costs {product.market_price}, not {line.unit_price}.",
            )
        ]
    return []


def _check_items(
    order: Order, items: list[ReturnItemInput], resolution: str
) -> tuple[list[dict], dict[str, OrderLine]]:
    if not items:
        return [detail("items", codes.ITEMS_REQUIRED, "Name at least one item to return.")], {}
    lines = {line.sku: line for line in order.lines.all()}
    held = units_held_by_returns(order)
    replacements = _replacement_products(items, order.market.code)
    details, seen = [], set()
    for i, item in enumerate(items):
        line = lines.get(item.sku)
        if item.sku in seen:
            details.append(
                detail(f"items[{i}].sku", codes.DUPLICATE_ITEM, f"{item.sku} appears twice.")
            )
            continue
        seen.add(item.sku)
        if line is None:
            details.append(
                detail(
                    f"items[{i}].sku",
                    codes.PRODUCT_NOT_FOUND,
                    f"{item.sku} is not on order {order.number}.",
                )
            )
            continue
        returnable = line.quantity_shipped - held.get(line.pk, 0)
        if item.quantity > returnable:
            details.append(
                detail(
                    f"items[{i}].quantity",
                    codes.RETURN_QUANTITY_EXCEEDED,
                    f"At most {max(returnable, 0)} of {item.sku} can be returned.",
                )
            )
        if item.replacement_sku and resolution != "replacement":
            details.append(
                detail(
                    f"items[{i}].replacement_sku",
                    codes.REPLACEMENT_NOT_REQUESTED,
                    'A replacement SKU needs "resolution": "replacement".',
                )
            )
        else:
            details += _check_replacement(i, item, line, replacements)
    return details, lines


@transaction.atomic
def return_create(
    *,
    user,
    order_number: str,
    reason: str,
    items: list[ReturnItemInput],
    comment: str = "",
    resolution: str = "refund",
) -> ReturnRequest:
    """Open a return (`initiated`) for units of a delivered order. The order row
    stays locked until commit, so two racing returns cannot claim the same
    units. Raises ValidationFailed with the API.md detail codes."""
    visible = order_list(user=user).filter(number=order_number).values_list("pk", flat=True)
    order_id = visible.first()
    if order_id is None:
        raise _fail([detail("order", codes.ORDER_NOT_FOUND, f"No order {order_number}.")])
    order = order_lock(order_id)
    _check_order(order)
    details, lines = _check_items(order, items, resolution)
    if details:
        raise _fail(details)
    replacements = _replacement_products(items, order.market.code)

    rr = ReturnRequest.objects.create(
        order=order,
        customer=order.customer,
        reason=reason,
        comment=comment,
        resolution=resolution,
    )
    rr.number = f"RMA-{rr.pk:06d}"
    ReturnRequest.objects.filter(pk=rr.pk).update(number=rr.number)
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                return_request=rr,
                order_line=lines[item.sku],
                sku=item.sku,
                quantity=item.quantity,
                replacement_product=replacements.get(item.replacement_sku),
            )
            for item in items
        ]
    )
    return_event_record(
        rr=rr, from_status="", to_status=ReturnStatus.INITIATED, actor=user, reason=reason
    )
    return rr
