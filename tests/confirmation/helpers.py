"""Helpers for the confirmation tests: place orders through the service (the
confirmation task queued on commit never runs in a `db` test), then drive the
confirm service or task by hand."""

from __future__ import annotations

import copy
from datetime import timedelta

from django.utils import timezone

from inventory.models import MovementKind, Reservation, StockMovement
from orders.models import CustomerProfile, Order
from orders.services import OrderItemInput, order_place
from tests.orders.support import ADDRESSES


def place_order(
    customer,
    lines=(("TSHIRT-RED-M", 1),),
    *,
    market: str = "US",
    token: str = "tok_visa",
    method: str = "card",
    address: dict | None = None,
    promo: str = "",
) -> Order:
    """A `pending` order written by `order_place`, confirmation not yet run."""
    return order_place(
        customer=customer,
        market_code=market,
        items=[OrderItemInput(sku, qty) for sku, qty in lines],
        shipping_method="standard",
        shipping_address=copy.deepcopy(address or ADDRESSES[market]),
        payment_method=method,
        payment_token="" if method == "cod" else token,
        promo_code=promo,
    )


def with_country(market: str, country: str) -> dict:
    address = copy.deepcopy(ADDRESSES[market])
    address["country"] = country
    return address


def age_account(user, days: int = 30):
    """Make an account `days` old (the new-account rule looks at date_joined)."""
    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=days))
    user.refresh_from_db()
    return user


def make_trusted(user):
    CustomerProfile.objects.update_or_create(user=user, defaults={"trusted": True})
    return user


def rules(order: Order) -> list[str]:
    return [r["rule"] for r in order.risk_reasons]


def entry(order: Order, rule: str) -> dict:
    [found] = [r for r in order.risk_reasons if r["rule"] == rule]
    return found


def reservations_of(order: Order):
    return Reservation.objects.filter(order_line__order=order).order_by("pk")


def reservation_statuses(order: Order) -> set[str]:
    return set(reservations_of(order).values_list("status", flat=True))


def releases_of(order: Order):
    return StockMovement.objects.filter(kind=MovementKind.RELEASE, reference=order.number)
