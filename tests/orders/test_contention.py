"""Many buyers, few units: real threads on real PostgreSQL row locks. Exactly
the available units are sold, the rest get INSUFFICIENT_STOCK, nothing goes
negative, and the ledger agrees with the stock levels."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import ValidationFailed
from inventory.models import Reservation, ReservationStatus, StockLevel
from orders.models import Order, OrderLine, PromoCode
from orders.services import OrderItemInput, order_place
from tests.factories import PromoCodeFactory, UserFactory, WarehouseFactory
from tests.orders.support import US_ADDRESS, assert_ledger_agrees, level_of, product

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def run_concurrently(count: int, work) -> list:
    """Run work(i) in `count` threads released together; each thread closes its
    own database connection. Returns each result or the exception raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a buyer hung (deadlock?)"
    return results


def buy(customer, items: list[tuple[str, int]], **kwargs):
    return order_place(
        customer=customer,
        market_code="US",
        items=[OrderItemInput(sku, qty) for sku, qty in items],
        shipping_method="standard",
        shipping_address=dict(US_ADDRESS),
        payment_method="card",
        payment_token="tok_visa",
        **kwargs,
    )


def split(results) -> tuple[list[Order], list[ValidationFailed]]:
    unexpected = [r for r in results if not isinstance(r, Order | ValidationFailed)]
    assert not unexpected, f"unexpected outcomes: {unexpected!r}"
    return (
        [r for r in results if isinstance(r, Order)],
        [r for r in results if isinstance(r, ValidationFailed)],
    )


@pytest.fixture
def buyers(shop):
    return [UserFactory() for _ in range(THREADS)]


def test_twenty_buyers_for_five_units(shop, buyers):
    scarce = product("SCARCE", {"US": "19.99"}, {shop.us_wh: 5})

    results = run_concurrently(THREADS, lambda i: buy(buyers[i], [("SCARCE", 1)]))

    sold, refused = split(results)
    assert len(sold) == 5
    assert len(refused) == THREADS - 5
    for error in refused:
        assert error.code == "VALIDATION_FAILED"
        assert [(d["field"], d["code"]) for d in error.details] == [
            ("items[0].quantity", "INSUFFICIENT_STOCK")
        ]
        assert error.details[0]["message"] == "Only 0 left of SCARCE."

    level = level_of(scarce, shop.us_wh)
    assert (level.on_hand, level.reserved, level.available) == (5, 5, 0)
    assert Order.objects.filter(lines__sku="SCARCE").count() == 5
    assert OrderLine.objects.filter(sku="SCARCE").count() == 5
    assert len({o.number for o in sold}) == 5
    # The confirmation ran on commit in each buyer's thread (eager Celery).
    assert set(Order.objects.values_list("status", flat=True)) == {"confirmed"}
    assert set(Reservation.objects.values_list("status", flat=True)) == {
        ReservationStatus.COMMITTED
    }
    assert_ledger_agrees()


def test_twenty_buyers_of_two_across_two_warehouses(shop, buyers):
    """3 units at the first warehouse, 4 at the second: three orders of 2 fit,
    one of them split 1 + 1 across the warehouses; 1 unit stays."""
    second = WarehouseFactory(code="US-WEST", country="US", priority=20, markets=["US"])
    item = product("PAIR", {"US": "10.00"}, {shop.us_wh: 3, second: 4})

    results = run_concurrently(THREADS, lambda i: buy(buyers[i], [("PAIR", 2)]))

    sold, refused = split(results)
    assert len(sold) == 3
    assert len(refused) == THREADS - 3
    for error in refused:
        assert [(d["field"], d["code"], d["message"]) for d in error.details] == [
            ("items[0].quantity", "INSUFFICIENT_STOCK", "Only 1 left of PAIR.")
        ]

    first_level, second_level = level_of(item, shop.us_wh), level_of(item, second)
    assert (first_level.on_hand, first_level.reserved) == (3, 3)
    assert (second_level.on_hand, second_level.reserved) == (4, 3)
    reservations_per_line = Counter(
        Reservation.objects.filter(order_line__sku="PAIR").values_list("order_line_id", flat=True)
    )
    assert sorted(reservations_per_line.values()) == [1, 1, 2], "exactly one line is split"
    split_line = next(line for line, n in reservations_per_line.items() if n == 2)
    assert sorted(
        Reservation.objects.filter(order_line_id=split_line).values_list(
            "stock_level__warehouse__code", "quantity"
        )
    ) == [("US-EAST", 1), ("US-WEST", 1)]
    assert_ledger_agrees()


def test_opposite_line_order_does_not_deadlock(shop, buyers):
    """Half the buyers list A then B, half B then A; locks are taken in one
    order, so nobody deadlocks and exactly the stock is sold."""
    product("PART-A", {"US": "5.00"}, {shop.us_wh: 5})
    product("PART-B", {"US": "5.00"}, {shop.us_wh: 5})

    def work(i):
        items = [("PART-A", 1), ("PART-B", 1)]
        return buy(buyers[i], items if i % 2 else items[::-1])

    sold, refused = split(run_concurrently(THREADS, work))
    assert len(sold) == 5
    assert len(refused) == THREADS - 5
    for level in StockLevel.objects.filter(product__sku__in=["PART-A", "PART-B"]):
        assert (level.on_hand, level.reserved) == (5, 5)
    assert_ledger_agrees()


def test_promo_total_cap_holds_under_concurrency(shop, buyers):
    PromoCodeFactory(code="FIRST3", value=Decimal("10"), min_subtotal=0, max_uses=3)
    product("PLENTY", {"US": "30.00"}, {shop.us_wh: 100})

    results = run_concurrently(10, lambda i: buy(buyers[i], [("PLENTY", 1)], promo_code="FIRST3"))

    sold, refused = split(results)
    assert len(sold) == 3
    for error in refused:
        assert [(d["field"], d["code"]) for d in error.details] == [
            ("promo_code", "PROMO_EXHAUSTED")
        ]
    assert PromoCode.objects.get(code="FIRST3").times_used == 3
    assert Order.objects.filter(promo_code="FIRST3").count() == 3
    level = StockLevel.objects.get(product__sku="PLENTY")
    assert level.reserved == 3
    assert_ledger_agrees()
