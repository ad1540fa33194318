"""Orders for the operations tests: a real one placed through `order_place` (for
pages and locks), and bare rows written straight to the table (for timing data)."""

from decimal import Decimal

import pytest

from orders.models import Market, Order
from orders.services import OrderItemInput, order_place
from tests.factories import UserFactory, WarehouseFactory, priced_product, us_market

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


@pytest.fixture
def place_order(db):
    """place_order() -> a `pending` order placed the way the API places it."""
    us_market()
    warehouse = WarehouseFactory()
    priced_product("LAMP-1", {"US": "40.00"}, stock={warehouse: 50})

    def place() -> Order:
        return order_place(
            customer=UserFactory(),
            market_code="US",
            items=[OrderItemInput(sku="LAMP-1", quantity=1)],
            shipping_method="standard",
            shipping_address=ADDRESS,
            payment_method="card",
            payment_token="tok_visa",
        )

    return place


@pytest.fixture
def order(place_order) -> Order:
    return place_order()


@pytest.fixture
def bare_orders(db):
    """bare_orders(n) -> n order rows written directly (test data for timings)."""

    def make(n: int) -> list[Order]:
        market = us_market()
        customer = UserFactory()
        return Order.objects.bulk_create(
            Order(
                customer=customer,
                market=Market.objects.get(pk=market.pk),
                currency="USD",
                subtotal=Decimal("10.00"),
                total=Decimal("10.00"),
                tax_rate=Decimal("0"),
                prices_include_tax=False,
                shipping_method="standard",
                shipping_address=ADDRESS,
                payment_method="card",
            )
            for _ in range(n)
        )

    return make
