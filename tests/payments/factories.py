"""Orders for payment tests, written straight through the ORM (payments never
imports orders in production code; tests may)."""

import itertools
from decimal import Decimal

import factory

from orders.models import Order
from payments.models import Payment
from payments.services import payment_authorize, payment_capture, payment_create
from tests.factories import MarketFactory, UserFactory, in_market

_cod_numbers = itertools.count(900000)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"US-{n + 900000:06d}")
    customer = factory.SubFactory(UserFactory)
    market = factory.SubFactory(MarketFactory)
    currency = "USD"
    subtotal = Decimal("100.00")
    total = Decimal("100.00")
    tax_rate = Decimal("0.0000")
    prices_include_tax = False
    shipping_method = "standard"
    shipping_address = factory.LazyFunction(
        lambda: {
            "name": "Ana Cruz",
            "phone": "+14155550100",
            "line1": "1 Main St",
            "line2": "",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        }
    )
    payment_method = "card"


def card_payment(*, amount: str = "100.00", token: str = "tok_visa", gateway: str = "test"):
    order = OrderFactory(total=Decimal(amount), subtotal=Decimal(amount))
    return payment_create(
        order=order,
        method="card",
        token=token,
        amount=Decimal(amount),
        currency="USD",
        gateway=gateway,
    )


def cod_payment(*, amount: str = "1499.00"):
    order = OrderFactory(
        market=in_market(),
        number=f"IN-{next(_cod_numbers):06d}",
        currency="INR",
        total=Decimal(amount),
        subtotal=Decimal(amount),
        payment_method="cod",
    )
    return payment_create(
        order=order,
        method="cod",
        token="",
        amount=Decimal(amount),
        currency="INR",
        gateway="manual",
    )


def authorized_payment(**kwargs) -> Payment:
    payment = card_payment(**kwargs)
    return payment_authorize(payment_id=payment.pk)


def captured_payment(*, captured: str | None = None, **kwargs) -> Payment:
    payment = authorized_payment(**kwargs)
    amount = Decimal(captured) if captured else payment.amount_authorized
    return payment_capture(
        payment_id=payment.pk, amount=amount, actor=None, idempotency_key=f"setup-{payment.pk}"
    )
