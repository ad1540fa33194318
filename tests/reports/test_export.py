""" "Export selected orders to CSV" on the Order changelist."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import StreamingHttpResponse

from reports.exports import COLUMNS, csv_safe
from tests.factories import UserFactory

from .conftest import at

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"
ACTION = "export_orders_csv"


def export(client, orders=(), *, query: str = "", select_across: bool = False):
    data = {
        "action": ACTION,
        ACTION_CHECKBOX_NAME: [o.pk for o in orders],
        "index": "0",
        "select_across": "1" if select_across else "0",
    }
    return client.post(CHANGELIST + query, data)


def read_csv(response) -> list[dict]:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    text = b"".join(response.streaming_content).decode()
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header == COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def test_the_action_is_offered_on_the_order_changelist(client, ops):
    client.force_login(ops)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    choices = dict(response.context["action_form"].fields["action"].choices)
    assert choices[ACTION] == "Export selected orders to CSV"


def test_exports_the_selected_orders_with_every_column(seeder, client, ops):
    customer = UserFactory(username="ravi")
    first = seeder.order(
        market="IN", status="confirmed", total="1499.00", quantity=3,
        created=at(21, 9, 30), customer=customer,
    )  # fmt: skip
    second = seeder.order(status="delivered", total="49.19", created=at(20, 8))
    seeder.order(status="pending", total="5.00", created=at(21, 10))  # not selected
    client.force_login(ops)

    rows = read_csv(export(client, [first, second]))

    assert rows == [
        {
            "number": second.number,
            "created_at": "2026-11-20T08:00:00+00:00",
            "status": "delivered",
            "market": "US",
            "currency": "USD",
            "subtotal": "49.19",
            "discount": "0.00",
            "shipping": "0.00",
            "tax": "0.00",
            "total": "49.19",
            "payment_status": "pending",
            "customer": "ana",
            "items_count": "1",
        },
        {
            "number": first.number,
            "created_at": "2026-11-21T09:30:00+00:00",
            "status": "confirmed",
            "market": "IN",
            "currency": "INR",
            "subtotal": "1499.00",
            "discount": "0.00",
            "shipping": "0.00",
            "tax": "0.00",
            "total": "1499.00",
            "payment_status": "pending",
            "customer": "ravi",
            "items_count": "3",
        },
    ]


def test_items_count_adds_up_units_over_lines(seeder, client, ops):
    from orders.models import OrderLine

    order = seeder.order(total="30.00", quantity=2, created=at(21))
    line = order.lines.get()
    OrderLine.objects.create(
        order=order, product=line.product, sku="OTHER", name="Other", quantity=5,
        unit_price=line.unit_price, line_total=line.line_total,
    )  # fmt: skip
    client.force_login(ops)

    (row,) = read_csv(export(client, [order]))

    assert row["items_count"] == "7"


def test_select_all_exports_every_order_matching_the_filters(seeder, client, ops):
    held = [seeder.order(status="on_hold", created=at(21, h)) for h in (8, 9)]
    seeder.order(status="confirmed", created=at(21, 10))
    client.force_login(ops)

    # The changelist's status filter, with "Select all" ticked.
    response = export(client, held[:1], query="?status__exact=on_hold", select_across=True)

    assert [row["number"] for row in read_csv(response)] == [o.number for o in held]


def test_search_joins_do_not_duplicate_orders(seeder, client, ops):
    from orders.models import OrderLine

    order = seeder.order(created=at(21), quantity=1)
    line = order.lines.get()
    OrderLine.objects.create(
        order=order, product=line.product, sku="TSHIRT-BLUE-L", name="Blue", quantity=1,
        unit_price=line.unit_price, line_total=line.line_total,
    )  # fmt: skip
    client.force_login(ops)

    rows = read_csv(export(client, [order], query="?q=TSHIRT", select_across=True))

    assert [row["number"] for row in rows] == [order.number]


def test_cells_that_a_spreadsheet_would_run_are_defused(seeder, client, ops):
    evil = UserFactory(username='=HYPERLINK("http://evil.example","x")')
    plus = UserFactory(username="+cmd|' /C calc'!A0")
    order = seeder.order(created=at(21, 8), customer=evil)
    other = seeder.order(created=at(21, 9), customer=plus)
    client.force_login(ops)

    rows = read_csv(export(client, [order, other]))

    assert rows[0]["customer"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[1]["customer"] == "'+cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("US-000001", "US-000001"),
        (None, ""),
        (3, "3"),
    ],
)
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


def test_customers_cannot_reach_the_export(seeder, client):
    order = seeder.order(created=at(21))
    client.force_login(UserFactory())

    response = export(client, [order])

    assert response.status_code == 302  # to the admin login: not staff
    assert not isinstance(response, StreamingHttpResponse)
