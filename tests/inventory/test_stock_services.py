"""inventory.services: reserve (by warehouse priority, split, all or nothing),
release (idempotent), commit, and the guarantees under them (append-only
ledger, database constraints against overselling)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from inventory.errors import InsufficientStock
from inventory.models import (
    AppendOnlyError,
    MovementKind,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockMovement,
)
from inventory.services import ReserveRequest, stock_commit, stock_release, stock_reserve
from orders.models import Order, OrderLine
from tests.factories import WarehouseFactory
from tests.orders.support import US_ADDRESS, assert_ledger_agrees, level_of, product


@pytest.fixture
def order(shop, customer):
    return Order.objects.create(
        number="US-123456",
        customer=customer,
        market=shop.us,
        currency="USD",
        subtotal=Decimal("0.00"),
        total=Decimal("0.00"),
        tax_rate=shop.us.tax_rate,
        prices_include_tax=False,
        shipping_method="standard",
        shipping_address=US_ADDRESS,
        payment_method="card",
    )


def line(order, item, qty: int) -> OrderLine:
    return OrderLine.objects.create(
        order=order,
        product=item,
        sku=item.sku,
        name=item.name,
        quantity=qty,
        unit_price=Decimal("1.00"),
        line_total=Decimal(qty),
    )


def reserve(*lines: OrderLine, market="US"):
    return stock_reserve(
        market_code=market,
        requests=[ReserveRequest(ln.pk, ln.product_id, ln.quantity) for ln in lines],
        expires_at=None,
        reference="US-123456",
    )


@pytest.fixture
def west(shop):
    return WarehouseFactory(code="US-WEST", country="US", priority=20, markets=["US"])


class TestReserve:
    def test_first_warehouse_by_priority_then_split(self, shop, order, west):
        item = product("WIDGET", {"US": "1.00"}, {shop.us_wh: 3, west: 10})
        reservations = reserve(line(order, item, 5))
        assert sorted((r.stock_level.warehouse.code, r.quantity) for r in reservations) == [
            ("US-EAST", 3),
            ("US-WEST", 2),
        ]
        assert level_of(item, shop.us_wh).reserved == 3
        assert level_of(item, west).reserved == 2
        rows = StockMovement.objects.filter(kind=MovementKind.RESERVATION, product=item)
        assert sorted(rows.values_list("reserved_delta", flat=True)) == [2, 3]
        assert set(rows.values_list("reference", flat=True)) == {"US-123456"}
        assert_ledger_agrees()

    def test_lower_priority_number_ships_first(self, shop, order):
        near = WarehouseFactory(code="US-NEAR", country="US", priority=1, markets=["US"])
        item = product("WIDGET", {"US": "1.00"}, {shop.us_wh: 10, near: 10})
        [reservation] = reserve(line(order, item, 4))
        assert reservation.stock_level.warehouse == near

    def test_all_or_nothing(self, shop, order):
        plenty = product("PLENTY", {"US": "1.00"}, {shop.us_wh: 10})
        short = product("SHORT", {"US": "1.00"}, {shop.us_wh: 1})
        movements = StockMovement.objects.count()
        with pytest.raises(InsufficientStock) as caught, transaction.atomic():
            reserve(line(order, plenty, 2), line(order, short, 2))
        assert caught.value.shortages == {short.pk: 1}
        assert level_of(plenty, shop.us_wh).reserved == 0
        assert not Reservation.objects.exists()
        assert StockMovement.objects.count() == movements

    def test_only_the_markets_active_warehouses(self, shop, order, west):
        item = product("WIDGET", {"US": "1.00", "IN": "80.00"}, {shop.in_wh: 10, west: 2})
        west.active = False
        west.save()
        with pytest.raises(InsufficientStock) as caught:
            reserve(line(order, item, 1))
        assert caught.value.shortages == {item.pk: 0}

    def test_two_lines_of_one_product_count_together(self, shop, order):
        item = product("WIDGET", {"US": "1.00"}, {shop.us_wh: 3})
        with pytest.raises(InsufficientStock):
            reserve(line(order, item, 2), line(order, item, 2))


class TestReleaseAndCommit:
    def test_release_gives_units_back_once(self, shop, order, west, customer):
        item = product("WIDGET", {"US": "1.00"}, {shop.us_wh: 3, west: 10})
        ln = line(order, item, 5)
        reserve(ln)

        assert stock_release(order_line_ids=[ln.pk], actor=customer, reason="cancelled") == 5
        assert stock_release(order_line_ids=[ln.pk], actor=customer, reason="cancelled") == 0

        assert level_of(item, shop.us_wh).reserved == 0
        assert level_of(item, west).reserved == 0
        assert set(Reservation.objects.values_list("status", flat=True)) == {
            ReservationStatus.RELEASED
        }
        releases = StockMovement.objects.filter(kind=MovementKind.RELEASE)
        assert sorted(releases.values_list("reserved_delta", flat=True)) == [-3, -2]
        assert {m.actor for m in releases} == {customer}
        assert_ledger_agrees()

    def test_commit_stops_expiry(self, shop, order):
        item = product("WIDGET", {"US": "1.00"}, {shop.us_wh: 3})
        ln = line(order, item, 1)
        stock_reserve(
            market_code="US",
            requests=[ReserveRequest(ln.pk, item.pk, 1)],
            expires_at=order.created_at,
        )
        assert stock_commit(order_line_ids=[ln.pk]) == 1
        reservation = Reservation.objects.get()
        assert reservation.status == ReservationStatus.COMMITTED
        assert reservation.expires_at is None
        assert stock_commit(order_line_ids=[ln.pk]) == 0

    def test_committed_units_are_released_on_cancel(self, shop, order):
        item = product("WIDGET", {"US": "1.00"}, {shop.us_wh: 3})
        ln = line(order, item, 2)
        reserve(ln)
        stock_commit(order_line_ids=[ln.pk])
        assert stock_release(order_line_ids=[ln.pk], reason="cancelled") == 2
        assert level_of(item, shop.us_wh).available == 3
        assert_ledger_agrees()


class TestGuarantees:
    def test_ledger_rows_cannot_be_changed_or_deleted(self, shop):
        movement = StockMovement.objects.first()
        movement.reason = "rewritten"
        with pytest.raises(AppendOnlyError):
            movement.save()
        with pytest.raises(AppendOnlyError):
            movement.delete()
        assert StockMovement.objects.get(pk=movement.pk).reason == "test receipt"

    def test_database_refuses_reserving_more_than_on_hand(self, shop):
        level = level_of(shop.tshirt, shop.us_wh)
        with pytest.raises(IntegrityError), transaction.atomic():
            StockLevel.objects.filter(pk=level.pk).update(reserved=level.on_hand + 1)

    def test_database_refuses_negative_reserved(self, shop):
        level = level_of(shop.tshirt, shop.us_wh)
        with pytest.raises(IntegrityError), transaction.atomic():
            StockLevel.objects.filter(pk=level.pk).update(reserved=-1)
