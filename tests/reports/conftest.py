"""Known data for report tests: orders, returns and stock written straight to
the tables with the timestamps each figure reads, so every expected figure can
be worked out by hand. (One test in test_flow.py goes through the real API.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from orders.models import Order, OrderLine
from returns.models import ReturnRequest
from tests.factories import StaffFactory, UserFactory, in_market, priced_product, us_market
from tests.fulfillment.support import confirmed_order, ful  # noqa: F401
from tests.orders.support import on_commit, place, shop  # noqa: F401

UTC = dt.UTC
# A fixed "now" for selector tests: 2026-11-21 15:00 UTC.
NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
DAY = dt.date(2026, 11, 21)


def at(day: int, hour: int = 12, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


class Seeder:
    """Writes orders with chosen status, money and timestamps."""

    def __init__(self):
        self.us = us_market()
        self.india = in_market()
        self.customer = UserFactory(username="ana")
        self.product = priced_product("TSHIRT-RED-M", {"US": "19.99", "IN": "1499.00"})
        self.count = 0

    def order(
        self,
        *,
        market: str = "US",
        status: str = "confirmed",
        total: str = "10.00",
        created: dt.datetime,
        quantity: int = 1,
        customer=None,
        number: str = "",
        **timestamps,
    ) -> Order:
        self.count += 1
        market_obj = self.us if market == "US" else self.india
        total_d = Decimal(total)
        order = Order.objects.create(
            number=number or f"{market}-{self.count:06d}",
            customer=customer or self.customer,
            market=market_obj,
            currency=market_obj.currency,
            status=status,
            subtotal=total_d,
            total=total_d,
            tax_rate=market_obj.tax_rate,
            prices_include_tax=market_obj.prices_include_tax,
            shipping_method="standard",
            shipping_address={},
            payment_method="card",
            **timestamps,
        )
        OrderLine.objects.create(
            order=order,
            product=self.product,
            sku=self.product.sku,
            name=self.product.name,
            quantity=quantity,
            unit_price=total_d,
            line_total=total_d,
        )
        # created_at is auto_now_add: set it afterwards.
        Order.objects.filter(pk=order.pk).update(created_at=created)
        order.refresh_from_db()
        return order

    def return_for(self, order: Order, *, created: dt.datetime, status: str = "initiated"):
        rr = ReturnRequest.objects.create(
            number=f"RMA-{order.number}-{ReturnRequest.objects.count() + 1}",
            order=order,
            customer=order.customer,
            reason="defective",
            status=status,
        )
        ReturnRequest.objects.filter(pk=rr.pk).update(created_at=created)
        return rr


@pytest.fixture
def seeder(db) -> Seeder:
    return Seeder()


@pytest.fixture
def ops(db):
    """Staff who may see orders (the dashboard and API permission) and stock."""
    user = StaffFactory(username="olga")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["orders", "inventory"], codename__startswith="view_"
        )
    )
    return user


@pytest.fixture
def known(seeder):
    """Orders placed on the 21st (A–G, M, O), before it (H–K, N) and just after (L)."""
    s = seeder
    o = {}
    # Placed on the 21st.
    o["A"] = s.order(status="delivered", total="19.99", created=at(21, 8),
                     confirmed_at=at(21, 8, 10), shipped_at=at(21, 10, 10),
                     delivered_at=at(21, 14))  # fmt: skip
    o["B"] = s.order(status="shipped", total="49.19", created=at(21, 9),
                     confirmed_at=at(21, 9), shipped_at=at(21, 14))  # fmt: skip
    o["C"] = s.order(status="cancelled", total="100.00", created=at(21, 10))
    o["D"] = s.order(status="on_hold", total="1500.00", created=at(21, 11), held_at=at(21, 11, 5))
    o["E"] = s.order(market="IN", status="confirmed", total="1499.00", created=at(21, 12),
                     confirmed_at=at(21, 12, 1))  # fmt: skip
    o["F"] = s.order(market="IN", status="pending", total="2998.50", created=at(21, 14))
    o["G"] = s.order(market="IN", status="processing", total="149.00", created=at(21, 13),
                     confirmed_at=at(21, 13))  # fmt: skip
    o["M"] = s.order(status="shipped", total="0.01", created=at(21, 0),
                     confirmed_at=at(21, 0), shipped_at=at(21, 1))  # fmt: skip
    o["O"] = s.order(status="pending", total="1.00", created=at(21, 14, 58))
    # Placed before the 21st.
    o["H"] = s.order(status="confirmed", total="30.00", created=at(18, 10), confirmed_at=at(18, 10))
    o["I"] = s.order(status="delivered", total="40.00", created=at(15), confirmed_at=at(15, 12),
                     shipped_at=at(21, 12), delivered_at=at(21, 13))  # fmt: skip
    o["J"] = s.order(status="on_hold", total="2000.00", created=at(20, 9), held_at=at(20, 9))
    o["K"] = s.order(status="delivered", total="25.00", created=at(10), confirmed_at=at(10),
                     shipped_at=at(11), delivered_at=at(12))  # fmt: skip
    o["N"] = s.order(status="delivered", total="25.00", created=at(19), confirmed_at=at(19),
                     shipped_at=at(20), delivered_at=at(21, 9))  # fmt: skip
    # Placed at the first instant after the 21st.
    o["L"] = s.order(status="confirmed", total="5.00", created=at(22, 0), confirmed_at=at(22, 0))
    # Returns: two opened on the 21st, one the day before.
    s.return_for(o["A"], created=at(21, 14, 30))
    s.return_for(o["K"], created=at(21, 10), status="rejected")
    s.return_for(o["I"], created=at(20, 23, 59))
    return o
