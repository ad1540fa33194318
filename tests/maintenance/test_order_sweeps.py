"""Beat sweeps for orders: expired reservations and lost confirmation messages."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from orders.models import Order, OrderEvent
from orders.services import OrderItemInput, order_place
from orders.services.maintenance import orders_expire_unconfirmed, orders_requeue_stuck
from payments.gateways.test_gateway import TestGateway
from tests.factories import UserFactory, WarehouseFactory, priced_product, us_market

ADDRESS = {
    "name": "Ana Cruz",
    "phone": "+14155550100",
    "line1": "1 Main St",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}


@pytest.fixture
def shop(db):
    us_market()
    warehouse = WarehouseFactory(code="US-EAST")
    priced_product("TSHIRT-RED-M", {"US": "19.99"}, stock={warehouse: 20})
    return warehouse


def place_unconfirmed(quantity: int = 2) -> Order:
    """In a `db` test the on-commit enqueue never fires: exactly a lost message."""
    return order_place(
        customer=UserFactory(),
        market_code="US",
        items=[OrderItemInput("TSHIRT-RED-M", quantity)],
        shipping_method="standard",
        shipping_address=ADDRESS,
        payment_method="card",
        payment_token="tok_visa",
    )


def age(order: Order, minutes: int) -> None:
    past = timezone.now() - timedelta(minutes=minutes)
    Order.objects.filter(pk=order.pk).update(created_at=past)
    Reservation.objects.filter(order_line__order=order).update(
        expires_at=past + timedelta(minutes=30)
    )


def test_lost_confirmation_message_is_confirmed_by_the_sweep(shop):
    order = place_unconfirmed()
    assert orders_requeue_stuck() == []  # too young to be stuck
    age(order, minutes=10)

    assert orders_requeue_stuck() == [order.number]

    order.refresh_from_db()
    assert order.status == "confirmed"
    assert len(TestGateway.calls_for("authorize")) >= 1
    assert orders_requeue_stuck() == []


def test_expired_reservation_cancels_and_releases_stock(shop, django_capture_on_commit_callbacks):
    order = place_unconfirmed(quantity=3)
    fresh = place_unconfirmed(quantity=1)
    age(order, minutes=45)

    with django_capture_on_commit_callbacks(execute=True):  # the void runs on commit
        assert orders_expire_unconfirmed() == [order.number]

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert "expired" in order.cancel_reason
    assert order.payment.status == "voided"
    level = StockLevel.objects.get()
    assert level.reserved == 1  # only the fresh order's unit
    fresh.refresh_from_db()
    assert fresh.status == "pending"
    assert (
        OrderEvent.objects.filter(order=order, to_status="cancelled", actor_name="system").count()
        == 1
    )


def test_expire_command_by_hand(shop, capsys):
    order = place_unconfirmed()
    age(order, minutes=45)
    call_command("expire_unconfirmed_orders")
    assert order.number in capsys.readouterr().out
    assert Order.objects.get(pk=order.pk).status == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_expiry_runs_cancel_each_order_once(monkeypatch):
    from orders.tasks import order_confirm

    monkeypatch.setattr(
        order_confirm, "delay_on_commit", lambda *args, **kwargs: None
    )  # lost messages
    us_market()
    warehouse = WarehouseFactory(code="US-EAST")
    priced_product("TSHIRT-RED-M", {"US": "19.99"}, stock={warehouse: 20})
    pending = [place_unconfirmed(quantity=1) for _ in range(6)]
    for order in pending:
        age(order, minutes=45)
    results, barrier = [], threading.Barrier(2)

    def run():
        barrier.wait()
        try:
            results.append(orders_expire_unconfirmed())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    cancelled = [n for r in results for n in r]
    assert sorted(cancelled) == sorted(o.number for o in pending)  # each exactly once
    releases = StockMovement.objects.filter(kind=MovementKind.RELEASE).count()
    assert releases == len(pending)
    assert StockLevel.objects.get().reserved == 0
