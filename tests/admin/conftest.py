"""Held orders made the way production makes them: placed through
`order_place` in a market whose review amount every order exceeds, then
confirmed by `order_confirm` (test gateway), which holds them for review."""

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from inventory.models import StockLevel
from orders.models import Market, Order, OrderStatus
from orders.services import OrderItemInput, order_place
from orders.services.confirming import order_confirm
from tests.factories import StaffFactory, UserFactory, WarehouseFactory, priced_product, us_market

ADDRESS = {
    "name": "Ana Cruz",
    "phone": "+14155550100",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}
PASSWORD = "pass-word-123"  # what UserFactory sets


@pytest.fixture
def shop(db):
    """US market holding every order (review amount 10.00) and one stocked product."""
    market = us_market()
    Market.objects.filter(pk=market.pk).update(review_amount=Decimal("10.00"))
    warehouse = WarehouseFactory()
    product = priced_product("LAMP-1", {"US": "40.00"}, stock={warehouse: 20})
    return {"market": market, "warehouse": warehouse, "product": product}


@pytest.fixture
def place_held(shop):
    """place_held(quantity=1, held_minutes_ago=None) -> an `on_hold` order."""

    def place(*, quantity: int = 1, held_minutes_ago: int | None = None, customer=None) -> Order:
        order = order_place(
            customer=customer or UserFactory(),
            market_code="US",
            items=[OrderItemInput(sku="LAMP-1", quantity=quantity)],
            shipping_method="standard",
            shipping_address=ADDRESS,
            payment_method="card",
            payment_token="tok_visa",
        )
        # Outside transaction=True tests on_commit never fires; confirm by hand
        # (a no-op when the eager task already ran).
        order = order_confirm(order_id=order.pk)
        assert order.status == OrderStatus.ON_HOLD, order.status
        if held_minutes_ago is not None:
            # Test setup only: backdate the hold to stage the queue's order and SLA.
            held_at = timezone.now() - timedelta(minutes=held_minutes_ago)
            Order.objects.filter(pk=order.pk).update(held_at=held_at)
            order.refresh_from_db()
        return order

    return place


def stock_level(shop) -> StockLevel:
    return StockLevel.objects.get(product=shop["product"], warehouse=shop["warehouse"])


def reviewer_group() -> Group:
    """The group as the data migration makes it (re-running it is harmless,
    and transactional tests flush it away)."""
    migration = importlib.import_module("orders.migrations.0002_reviewer_group")
    migration.create_reviewer_group(django_apps, None)
    return Group.objects.get(name="Reviewer")


@pytest.fixture
def reviewer(db):
    user = StaffFactory(username="rita")
    user.groups.add(reviewer_group())
    return user


@pytest.fixture
def other_reviewer(db):
    user = StaffFactory(username="raj")
    user.groups.add(reviewer_group())
    return user


@pytest.fixture
def ops_user(db):
    """Staff who may see and cancel orders but not review them."""
    user = StaffFactory(username="oscar")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="orders", codename__in=["view_order", "change_order"]
        )
    )
    return user
