"""Factory-boy factories shared by every test package. Markets and products
mirror the API.md demo data so figures in tests read like the docs."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from inventory.models import Product, ProductPrice, StockLevel, Warehouse, WarehouseMarket
from orders.models import CustomerProfile, Market, PromoCode, ShippingMethod


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pass-word-123")

    @factory.post_generation
    def profile(self, create, extracted, **kwargs):
        if create:
            CustomerProfile.objects.get_or_create(user=self, defaults=kwargs)


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


class MarketFactory(factory.django.DjangoModelFactory):
    """US-like by default: 8% tax added, card only, standard 5.99 free over 50."""

    class Meta:
        model = Market
        django_get_or_create = ("code",)

    code = "US"
    name = "United States"
    currency = "USD"
    country = "US"
    tax_rate = Decimal("0.0800")
    prices_include_tax = False
    payment_methods = factory.LazyFunction(lambda: ["card"])
    cod_limit = None
    review_amount = Decimal("1000.00")
    return_window_days = 30


class ShippingMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingMethod
        django_get_or_create = ("market", "code")

    market = factory.SubFactory(MarketFactory)
    code = "standard"
    name = "Standard"
    price = Decimal("5.99")
    free_over = Decimal("50.00")


def us_market() -> Market:
    market = MarketFactory()
    ShippingMethodFactory(market=market)
    ShippingMethodFactory(
        market=market, code="express", name="Express", price=Decimal("14.99"), free_over=None
    )
    return market


def in_market() -> Market:
    market = MarketFactory(
        code="IN",
        name="India",
        currency="INR",
        country="IN",
        tax_rate=Decimal("0.1800"),
        prices_include_tax=True,
        payment_methods=["card", "upi", "cod"],
        cod_limit=Decimal("50000.00"),
        review_amount=Decimal("100000.00"),
        cod_review_amount=Decimal("20000.00"),
    )
    ShippingMethodFactory(market=market, price=Decimal("49.00"), free_over=Decimal("999.00"))
    ShippingMethodFactory(
        market=market, code="express", name="Express", price=Decimal("149.00"), free_over=None
    )
    return market


class WarehouseFactory(factory.django.DjangoModelFactory):
    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.LazyAttribute(lambda w: f"Warehouse {w.code}")
    country = "US"
    priority = 10

    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    @factory.post_generation
    def markets(self, create, extracted, **kwargs):
        if create:
            for code in extracted or ["US"]:
                WarehouseMarket.objects.get_or_create(warehouse=self, market_code=code)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.LazyAttribute(lambda p: f"Product {p.sku}")
    active = True


def priced_product(
    sku: str, prices: dict[str, str], *, stock: dict | None = None, active: bool = True
) -> Product:
    """A product with prices per market code and on-hand stock per warehouse
    ({warehouse: units}), written straight to the tables as a fixture."""
    product = ProductFactory(sku=sku, active=active)
    for code, amount in prices.items():
        ProductPrice.objects.update_or_create(
            product=product, market_code=code, defaults={"amount": Decimal(amount)}
        )
    for warehouse, units in (stock or {}).items():
        StockLevel.objects.update_or_create(
            product=product, warehouse=warehouse, defaults={"on_hand": units}
        )
    return product


class PromoCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PromoCode
        django_get_or_create = ("code",)

    code = "WELCOME10"
    kind = "percent"
    value = Decimal("10")
    min_subtotal = Decimal("20")
