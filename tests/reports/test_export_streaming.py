"""The CSV export streams: building the response reads no order, and the rows
come from one query iterated as the download proceeds (a server-side cursor on
PostgreSQL, CHUNK_SIZE rows per fetch); its content is what the model-by-model
export wrote (same cells, same order)."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from reports import exports
from reports.exports import COLUMNS, csv_safe, orders_csv_response

from .conftest import at

pytestmark = pytest.mark.django_db


def reference_csv(orders) -> str:
    """The export as it was written before it read tuples: one Order at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for order in sorted(orders, key=lambda o: (o.created_at, o.pk)):
        writer.writerow(
            [
                csv_safe(value)
                for value in (
                    order.number,
                    order.created_at.astimezone(exports.UTC).isoformat(),
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
                    sum(line.quantity for line in order.lines.all()),
                )
            ]
        )
    return out.getvalue()


def test_content_matches_the_model_by_model_export(seeder):
    seeder.order(market="IN", status="confirmed", total="1499.00", quantity=3, created=at(21, 9))
    seeder.order(status="delivered", total="49.19", created=at(20, 8))
    seeder.order(status="pending", total="5.00", created=at(21, 9))  # same time: pk decides
    seeder.order(status="cancelled", total="7.50", created=at(22))
    orders = list(Order.objects.select_related("market", "customer").prefetch_related("lines"))

    response = orders_csv_response(Order.objects.all())

    assert b"".join(response.streaming_content).decode() == reference_csv(orders)


def test_building_the_response_reads_nothing_and_rows_come_from_one_query(seeder, monkeypatch):
    for hour in range(7):
        seeder.order(created=at(21, hour))
    monkeypatch.setattr(exports, "CHUNK_SIZE", 2)

    with CaptureQueriesContext(connection) as built:
        response = orders_csv_response(Order.objects.all())
    assert response.streaming
    assert built.captured_queries == []

    with CaptureQueriesContext(connection) as streamed:
        chunks = list(response.streaming_content)
    assert len(chunks) == 8  # the header and one chunk per order
    selects = [q["sql"] for q in streamed.captured_queries if "SELECT" in q["sql"]]
    assert len(selects) == 1  # one cursor over every row, no query per order
