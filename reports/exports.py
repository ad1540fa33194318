"""CSV export of orders, streamed row by row.

`export_orders_csv` is an admin action; `reports.admin` adds it to the Order
changelist, where it exports the selected orders, or with "Select all N orders"
every order matching the changelist's current filters and search."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.contrib import admin
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils import timezone

from orders.models import Order, OrderLine

from .ranges import UTC

COLUMNS = [
    "number",
    "created_at",
    "status",
    "market",
    "currency",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "payment_status",
    "customer",
    "items_count",
]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 500


def csv_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose write returns the line, for csv.writer."""

    def write(self, value: str) -> str:
        return value


def export_queryset(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """The orders of `queryset`, re-read with what the CSV needs. Units per
    order come from a subquery, so the changelist's joins cannot multiply them."""
    units = (
        OrderLine.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return (
        Order.objects.filter(pk__in=queryset.order_by().values("pk"))
        .select_related("market", "customer")
        .annotate(items_count=Coalesce(Subquery(units, output_field=IntegerField()), 0))
        .order_by("created_at", "pk")
    )


def order_rows(orders: Iterable[Order]) -> Iterator[list[str]]:
    yield COLUMNS
    for order in orders:
        yield [
            csv_safe(value)
            for value in (
                order.number,
                order.created_at.astimezone(UTC).isoformat(),
                order.status,
                order.market.code,
                order.currency,
                order.subtotal,
                order.discount,
                order.shipping,
                order.tax,
                order.total,
                order.payment_status,
                order.customer.get_username(),
                order.items_count,
            )
        ]


def orders_csv_response(queryset: QuerySet[Order], *, filename: str = "") -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    rows = order_rows(export_queryset(queryset).iterator(chunk_size=CHUNK_SIZE))
    filename = filename or f"orders-{timezone.now().astimezone(UTC):%Y%m%d-%H%M%S}.csv"
    return StreamingHttpResponse(
        (writer.writerow(row) for row in rows),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@admin.action(description="Export selected orders to CSV", permissions=["view"])
def export_orders_csv(modeladmin, request, queryset):
    return orders_csv_response(queryset)
