"""Placing an order costs the same number of queries for 1 line as for 10
(run with -s to see the figure)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.services.confirming import order_confirm
from tests.orders.support import order_body

SKUS = [f"Q-{i:02d}" for i in range(10)]


def stock_ten(shop):
    for sku in SKUS:
        shop.product(sku, us="3.00", units=100)


def test_place_query_count_does_not_grow_with_lines(shop, customer_api, place):
    stock_ten(shop)
    place(customer_api, order_body("US", [(SKUS[0], 1)]), confirm=False)  # warm caches

    with CaptureQueriesContext(connection) as one_line:
        response = place(customer_api, order_body("US", [(SKUS[1], 1)]), confirm=False)
    assert response.status_code == 201, response.json()

    with CaptureQueriesContext(connection) as ten_lines:
        response = place(customer_api, order_body("US", [(sku, 2) for sku in SKUS]), confirm=False)
    assert response.status_code == 201, response.json()
    assert len(response.json()["items"]) == 10

    print(
        f"\nQUERY COUNT POST /api/v1/orders/: {len(one_line)} queries for 1 line, "
        f"{len(ten_lines)} for 10 lines"
    )
    assert len(ten_lines) == len(one_line), "\n".join(q["sql"] for q in ten_lines.captured_queries)


def test_place_with_promo_and_key_stays_flat(
    shop, customer_api, place, django_assert_max_num_queries
):
    stock_ten(shop)
    place(customer_api, order_body("US", [(SKUS[0], 1)]), confirm=False)

    with CaptureQueriesContext(connection) as one_line:
        place(
            customer_api,
            order_body("US", [(SKUS[1], 30)], promo_code="WELCOME10"),
            key="k-1",
            confirm=False,
        )
    with django_assert_max_num_queries(len(one_line)):
        response = place(
            customer_api,
            order_body("US", [(sku, 3) for sku in SKUS], promo_code="WELCOME10"),
            key="k-10",
            confirm=False,
        )
    assert response.status_code == 201, response.json()
    print(f"\nQUERY COUNT with promo + Idempotency-Key: {len(one_line)} for 1 line")


def test_confirmation_query_count_does_not_grow_with_lines(shop, customer_api, place):
    stock_ten(shop)
    # The warm-up order shares no first line with the others, so the duplicate
    # rule finds no candidate for either (a candidate costs one query more).
    numbers = [
        place(customer_api, order_body("US", lines), confirm=False).json()["number"]
        for lines in ([(SKUS[0], 2)], [(SKUS[1], 1)], [(sku, 1) for sku in SKUS])
    ]
    first, one, ten = (Order.objects.get(number=n) for n in numbers)
    order_confirm(order_id=first.pk)  # warm caches

    with CaptureQueriesContext(connection) as one_line:
        order_confirm(order_id=one.pk)
    with CaptureQueriesContext(connection) as ten_lines:
        order_confirm(order_id=ten.pk)

    print(
        f"\nQUERY COUNT order_confirm: {len(one_line)} queries for 1 line, "
        f"{len(ten_lines)} for {ten.lines.count()} lines"
    )
    assert len(ten_lines) == len(one_line)
