"""Delivered orders for return tests, and the calls a return goes through.

Fulfilment is built separately, so an order is "delivered" here the way the
brief allows: placed and confirmed through the real services, its stock moved
off hand by `inventory.services.stock_ship` (ledger rows and fulfilled
reservations, as shipping will do), its payment captured through
`payment_capture`, then its status and timestamps set straight in the tables."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from inventory.models import Reservation, ReservationStatus
from inventory.services import ShipRequest, stock_ship
from orders.models import Order, OrderLine
from orders.services import OrderItemInput, order_place
from orders.services.confirming import order_confirm
from payments.services import payment_capture
from tests.orders.support import ADDRESSES

RETURNS_URL = "/api/v1/returns/"


def return_url(number: str, action: str = "") -> str:
    return f"{RETURNS_URL}{number}/" + (f"{action}/" if action else "")


def delivered_order(
    customer,
    market: str = "US",
    lines=(("TSHIRT-RED-M", 1),),
    *,
    promo: str = "",
    shipping_method: str = "standard",
    days_ago: float = 1,
    deliver: bool = True,
) -> Order:
    order = order_place(
        customer=customer,
        market_code=market,
        items=[OrderItemInput(sku=sku, quantity=qty) for sku, qty in lines],
        shipping_method=shipping_method,
        shipping_address=dict(ADDRESSES[market]),
        payment_method="card",
        payment_token="tok_visa",
        promo_code=promo,
    )
    order = order_confirm(order_id=order.pk)
    assert order.status == "confirmed", order.status
    if deliver:
        ship_everything(order)
        payment_capture(
            payment_id=order.payment.pk,
            amount=order.total,
            actor=None,
            idempotency_key=f"ship-{order.number}",
        )
        at = timezone.now() - timedelta(days=days_ago)
        Order.objects.filter(pk=order.pk).update(
            status="delivered", shipped_at=at, delivered_at=at, payment_status="captured"
        )
    return Order.objects.get(pk=order.pk)


def ship_everything(order: Order) -> None:
    by_warehouse: dict[int, list[ShipRequest]] = defaultdict(list)
    for reservation in Reservation.objects.filter(
        order_line__order=order,
        status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED],
    ).select_related("stock_level"):
        by_warehouse[reservation.stock_level.warehouse_id].append(
            ShipRequest(reservation.order_line_id, reservation.open_quantity)
        )
    for warehouse_id, requests in by_warehouse.items():
        stock_ship(warehouse_id=warehouse_id, requests=requests, reference=order.number)
    OrderLine.objects.filter(order=order).update(quantity_shipped=F("quantity"))


def open_return(client, order: Order, items, *, reason="defective", **extra):
    body = {
        "order": order.number,
        "reason": reason,
        "items": [{"sku": sku, "quantity": qty} for sku, qty in items],
        **extra,
    }
    return client.post(RETURNS_URL, body, format="json")


def walk_to_pickup(staff_api, number: str) -> None:
    for action in ("approve", "schedule-pickup"):
        response = staff_api.post(return_url(number, action), {}, format="json")
        assert response.status_code == 200, response.json()


def receive(staff_api, number: str, items):
    body = {
        "items": [
            {"sku": sku, "quantity": qty, "condition": condition} for sku, qty, condition in items
        ]
    }
    return staff_api.post(return_url(number, "receive"), body, format="json")


def money(value: str) -> Decimal:
    return Decimal(value)
