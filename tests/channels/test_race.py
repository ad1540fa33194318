"""Racing deliveries on real PostgreSQL: the same external id delivered by
several threads at once is imported once; the same buyer's different orders
share one customer."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from inventory.models import MovementKind, StockMovement
from orders.models import ChannelOrder, Order
from tests.orders.support import assert_ledger_agrees, level_of
from tests.orders.test_contention import run_concurrently

from .conftest import URL, channel_payload, sign

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def post(payload: dict):
    body = json.dumps(payload).encode()
    return Client().post(
        URL.format(channel="tiktok"),
        data=body,
        content_type="application/json",
        HTTP_X_ORDERLY_SIGNATURE=sign(body),
    )


def test_racing_deliveries_of_one_external_id_make_one_order(shop):
    payload = channel_payload("TT-RACE")

    responses = run_concurrently(THREADS, lambda i: post(payload))

    errors = [r for r in responses if isinstance(r, Exception)]
    assert not errors, errors
    assert Counter(r.status_code for r in responses) == {201: 1, 200: THREADS - 1}
    numbers = {r.json()["number"] for r in responses}
    assert len(numbers) == 1
    assert Order.objects.count() == 1
    row = ChannelOrder.objects.get()
    assert (row.status, row.attempts, row.order.number) == ("imported", 1, numbers.pop())
    assert level_of(shop.tshirt, shop.us_wh).reserved == 1
    assert StockMovement.objects.filter(kind=MovementKind.RESERVATION).count() == 1
    assert row.order.payment.amount_captured == row.order.total
    assert_ledger_agrees()


def test_racing_orders_of_one_buyer_share_one_customer(shop):
    responses = run_concurrently(THREADS, lambda i: post(channel_payload(f"TT-{i}")))

    errors = [r for r in responses if isinstance(r, Exception)]
    assert not errors, errors
    assert [r.status_code for r in responses] == [201] * THREADS
    assert Order.objects.count() == THREADS
    assert get_user_model().objects.filter(username="tiktok:ana@example.com").count() == 1
    assert Order.objects.values("customer").distinct().count() == 1
    assert level_of(shop.tshirt, shop.us_wh).reserved == THREADS
    assert_ledger_agrees()


def test_racing_retries_of_a_held_order_import_it_once(shop):
    from orders.channels.services import channel_order_replay
    from tests.factories import StaffFactory
    from tests.orders.support import stock_in

    payload = channel_payload(
        "TT-HELD",
        items=[{"sku": "TSHIRT-RED-M", "quantity": 55, "unit_price": "19.99"}],
        total="1187.42",
    )
    assert post(payload).status_code == 202
    stock_in(shop.tshirt, shop.us_wh, 10)
    row = ChannelOrder.objects.get()
    staff = StaffFactory()

    def retry(i: int):
        if i % 2:  # half redeliveries, half replays from the admin
            return post(payload).status_code
        replayed = channel_order_replay(channel_order_id=row.pk, actor=staff)
        return 201 if replayed.imported_now else 200

    results = run_concurrently(THREADS, retry)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Counter(results) == {201: 1, 200: THREADS - 1}
    assert Order.objects.count() == 1
    assert level_of(shop.tshirt, shop.us_wh).reserved == 55
    assert_ledger_agrees()
