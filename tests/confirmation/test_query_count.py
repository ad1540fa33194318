"""How many queries `order_confirm` makes, for a 1-line and a 5-line order
(run with -s to see the figures)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.services.confirming import order_confirm

from .helpers import place_order

SKUS = [f"QC-{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("token", "status"),
    [("tok_visa", "confirmed"), ("tok_riskHigh", "on_hold"), ("tok_chargeDeclined", "cancelled")],
)
def test_order_confirm_query_count(shop, old_customer, token, status):
    for sku in SKUS:
        shop.product(sku, us="3.00", units=100)
    warm = place_order(old_customer, [(SKUS[0], 9)], token=token)
    one = place_order(old_customer, [(SKUS[0], 1)], token=token)
    five = place_order(old_customer, [(sku, 2) for sku in SKUS], token=token)
    order_confirm(order_id=warm.pk)  # warm caches (content types, permissions)

    with CaptureQueriesContext(connection) as one_line:
        assert order_confirm(order_id=one.pk).status == status
    with CaptureQueriesContext(connection) as five_lines:
        assert order_confirm(order_id=five.pk).status == status

    print(
        f"\nQUERY COUNT order_confirm ({status}): {len(one_line)} queries for 1 line, "
        f"{len(five_lines)} for 5 lines"
    )
    assert len(five_lines) == len(one_line), "\n".join(
        q["sql"] for q in five_lines.captured_queries
    )
