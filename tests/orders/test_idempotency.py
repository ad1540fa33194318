"""Idempotency-Key on POST /api/v1/orders/: a replay returns the first response
and writes nothing; a different body is a 409; a race on one key yields one
order; keys belong to a customer."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from inventory.models import Reservation, StockMovement
from orders.models import IdempotencyRecord, Order, PromoCode
from tests.factories import token_for
from tests.orders.support import (
    ORDERS_URL,
    assert_error,
    assert_ledger_agrees,
    assert_unchanged,
    level_of,
    order_body,
    snapshot,
)

KEY = "4f1c2a9e-order-1"


def test_same_key_same_body_replays_the_first_response(shop, customer, customer_api, place):
    body = order_body("US", [("TSHIRT-RED-M", 2)], promo_code="WELCOME10")
    first = place(customer_api, body, key=KEY)
    assert first.status_code == 201, first.json()
    assert first.headers.get("Idempotent-Replayed") != "true"
    after_first = snapshot()

    second = place(customer_api, body, key=KEY)

    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert_unchanged(after_first)
    assert Order.objects.filter(customer=customer).count() == 1
    order = Order.objects.get(customer=customer)
    assert Reservation.objects.filter(order_line__order=order).count() == 1
    assert sum(r.quantity for r in Reservation.objects.all()) == 2
    assert level_of(shop.tshirt, shop.us_wh).reserved == 2
    assert StockMovement.objects.filter(reference=order.number).count() == 1
    assert PromoCode.objects.get(pk=shop.promo.pk).times_used == 1


def test_replay_shows_the_order_as_first_answered(shop, customer_api, place):
    """The order has moved on (confirmed by the worker); the replay is still the
    first response, not a fresh read."""
    body = order_body("US")
    first = place(customer_api, body, key=KEY)
    number = first.json()["number"]
    assert customer_api.get(f"{ORDERS_URL}{number}/").json()["status"] == "confirmed"

    second = place(customer_api, body, key=KEY)
    assert second.json() == first.json()
    assert second.json()["status"] == "pending"


def test_same_key_different_body_is_409_and_writes_nothing(shop, customer_api, place):
    assert place(customer_api, order_body("US", [("TSHIRT-RED-M", 1)]), key=KEY).status_code == 201
    before = snapshot()

    response = place(customer_api, order_body("US", [("TSHIRT-RED-M", 3)]), key=KEY)

    assert_error(response, 409, "IDEMPOTENCY_KEY_REUSED")
    assert response.headers.get("Idempotent-Replayed") != "true"
    assert_unchanged(before)


def test_key_is_per_customer(shop, customer, customer_api, other_customer_api, place):
    body = order_body("US")
    mine = place(customer_api, body, key=KEY)
    theirs = place(other_customer_api, body, key=KEY)

    assert mine.status_code == theirs.status_code == 201
    assert theirs.headers.get("Idempotent-Replayed") != "true"
    assert mine.json()["number"] != theirs.json()["number"]
    assert Order.objects.count() == 2
    assert Order.objects.get(number=mine.json()["number"]).customer == customer
    assert level_of(shop.tshirt, shop.us_wh).reserved == 2


def test_different_keys_make_different_orders(shop, customer_api, place):
    body = order_body("US")
    a = place(customer_api, body, key="key-a")
    b = place(customer_api, body, key="key-b")
    assert a.json()["number"] != b.json()["number"]
    assert Order.objects.count() == 2


def test_without_a_key_each_post_is_a_new_order(shop, customer_api, place):
    body = order_body("US")
    place(customer_api, body)
    place(customer_api, body)
    assert Order.objects.count() == 2


def test_rejected_request_stores_no_key(shop, customer_api, place):
    """A 400 wrote nothing, so the key stays free for the corrected request."""
    before = snapshot()
    bad = place(customer_api, order_body("US", [("TSHIRT-RED-M", 0)]), key=KEY)
    assert bad.status_code == 400
    assert_unchanged(before)
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_unusable_key_is_a_validation_error(shop, customer_api, place, key):
    before = snapshot()
    response = place(customer_api, order_body("US"), key=key)
    assert_error(response, 400, "VALIDATION_FAILED")
    assert_unchanged(before)


@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_with_one_key_make_one_order(shop, customer):
    body = order_body("US", [("TSHIRT-RED-M", 1)])
    token = token_for(customer)
    barrier = threading.Barrier(2)
    responses: list = [None, None]

    def post(i: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            barrier.wait(timeout=30)
            responses[i] = client.post(ORDERS_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
        except Exception as exc:
            responses[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    assert all(not isinstance(r, Exception) for r in responses), responses
    assert [r.status_code for r in responses] == [201, 201], [r.content for r in responses]
    numbers = {r.json()["number"] for r in responses}
    assert len(numbers) == 1
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert Order.objects.count() == 1
    assert Reservation.objects.count() == 1
    assert level_of(shop.tshirt, shop.us_wh).reserved == 1
    assert IdempotencyRecord.objects.count() == 1
    assert_ledger_agrees()


def test_same_body_in_another_key_order_is_the_same_request(shop, customer_api, place):
    body = order_body("US", [("TSHIRT-RED-M", 1)])
    first = place(customer_api, body, key=KEY)
    reordered = dict(reversed(list(body.items())))
    reordered["shipping_address"] = dict(reversed(list(body["shipping_address"].items())))
    second = place(customer_api, reordered, key=KEY)
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["number"] == first.json()["number"]
    assert Order.objects.count() == 1
