"""API shapes for orders. Input serializers check shape only; business rules
live in services."""

from __future__ import annotations

import phonenumbers
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import StrictIntegerField

from .models import Hold, HoldReason, Market, Order, OrderEvent, OrderLine, ShippingMethod

MONEY = {"max_digits": 12, "decimal_places": 2}

# DRF's generic codes → API.md detail codes for POST /orders/.
ORDER_INPUT_CODES = {
    "items:REQUIRED": "ITEMS_REQUIRED",
    "items:NULL": "ITEMS_REQUIRED",
    "items:EMPTY": "ITEMS_REQUIRED",
    "items:NOT_A_LIST": "ITEMS_REQUIRED",
    "items:MAX_LENGTH": "TOO_MANY_ITEMS",
    "items[].quantity:MIN_VALUE": "INVALID_QUANTITY",
    "items[].quantity:INVALID": "INVALID_QUANTITY",
    "items[].quantity:REQUIRED": "INVALID_QUANTITY",
    "items[].quantity:NULL": "INVALID_QUANTITY",
    "items[].quantity:MAX_STRING_LENGTH": "INVALID_QUANTITY",
    "items[].quantity:MAX_VALUE": "QUANTITY_LIMIT",
    "items[].sku:*": "PRODUCT_NOT_FOUND",
    "market:*": "MARKET_NOT_FOUND",
    "shipping_method:*": "SHIPPING_METHOD_NOT_FOUND",
    "shipping_address:*": "ADDRESS_INCOMPLETE",
    "shipping_address.*:REQUIRED": "ADDRESS_INCOMPLETE",
    "shipping_address.*:BLANK": "ADDRESS_INCOMPLETE",
    "shipping_address.*:NULL": "ADDRESS_INCOMPLETE",
    "shipping_address.*:INVALID": "ADDRESS_INCOMPLETE",
    "shipping_address.*:MAX_LENGTH": "ADDRESS_INCOMPLETE",
    "shipping_address.phone:INVALID_PHONE": "INVALID_PHONE",
    "payment_method:*": "INVALID_PAYMENT",
    "payment_token:*": "INVALID_PAYMENT",
    "promo_code:*": "PROMO_INVALID",
    "expected_total:*": "AMOUNT_MISMATCH",
}


# ISO 3166-1 alpha-2 (plus XK, AC, TA): the regions with a phone numbering plan
# and the few ISO territories without one.
COUNTRY_CODES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {
    "AQ", "BV", "GS", "HM", "PN", "TF", "UM"
}  # fmt: skip


class AddressSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=32)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)

    def validate(self, attrs):
        if attrs["country"].upper() not in COUNTRY_CODES:
            raise serializers.ValidationError(
                {"country": serializers.ErrorDetail("Not a known country code.", code="invalid")}
            )
        try:
            number = phonenumbers.parse(attrs["phone"], attrs["country"].upper())
            valid = phonenumbers.is_valid_number(number)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            raise serializers.ValidationError(
                {
                    "phone": serializers.ErrorDetail(
                        "Not a valid phone number.", code="invalid_phone"
                    )
                }
            )
        attrs["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        attrs["country"] = attrs["country"].upper()
        return attrs


class OrderItemInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=100)


class OrderPlaceInputSerializer(serializers.Serializer):
    market = serializers.CharField(max_length=8)
    items = serializers.ListField(
        child=OrderItemInputSerializer(), allow_empty=False, max_length=50
    )
    shipping_method = serializers.CharField(max_length=32)
    shipping_address = AddressSerializer()
    payment_method = serializers.CharField(max_length=16)
    payment_token = serializers.CharField(
        max_length=255, required=False, allow_blank=True, allow_null=True, default=""
    )
    promo_code = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True, default=""
    )
    expected_total = serializers.DecimalField(
        **MONEY, required=False, allow_null=True, default=None
    )


class OrderLineSerializer(serializers.ModelSerializer):
    unit_price = serializers.DecimalField(**MONEY)
    line_total = serializers.DecimalField(**MONEY)

    class Meta:
        model = OrderLine
        fields = [
            "sku",
            "name",
            "quantity",
            "unit_price",
            "line_total",
            "quantity_shipped",
            "quantity_returned",
        ]


class ActiveHoldSerializer(serializers.Serializer):
    """An active hold as the order shows it."""

    id = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=HoldReason.choices)
    note = serializers.CharField()
    shipment = serializers.CharField(
        allow_null=True, help_text="The held shipment's number; null for the whole order."
    )
    placed_by = serializers.CharField(allow_null=True, help_text="Username; null: the system.")
    placed_at = serializers.DateTimeField()


def hold_representation(hold: Hold) -> dict:
    return {
        "id": hold.pk,
        "reason": hold.reason,
        "note": hold.note,
        "shipment": hold.shipment.number if hold.shipment_id else None,
        "placed_by": hold.placed_by.username if hold.placed_by_id else None,
        "placed_at": serializers.DateTimeField().to_representation(hold.placed_at),
    }


def order_holds_representation(order: Order) -> list[dict]:
    """Active holds; lists prefetch them as `active_holds` (orders.selectors)."""
    holds = getattr(order, "active_holds", None)
    if holds is None:
        holds = order.holds.filter(released_at__isnull=True).select_related("placed_by", "shipment")
    return [hold_representation(hold) for hold in holds]


class OrderSerializer(serializers.ModelSerializer):
    """The order as the API shows it. The declared fields define the schema;
    `to_representation` is hand-built because DRF's generic path (a copy of
    every field per serializer, attribute lookups through `source`) costs about
    a millisecond per order, and a list page holds up to 100 orders.
    `generic_representation` keeps DRF's own output, which the tests hold the
    fast one to."""

    market = serializers.CharField(source="market.code")
    items = OrderLineSerializer(source="lines", many=True)
    subtotal = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(**MONEY)
    shipping = serializers.DecimalField(**MONEY)
    tax = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    shipping_address = AddressSerializer()
    holds = serializers.SerializerMethodField(help_text="The order's active holds.")

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "market",
            "currency",
            "items",
            "subtotal",
            "discount",
            "shipping",
            "tax",
            "total",
            "tax_exempt",
            "promo_code",
            "payment_method",
            "payment_status",
            "shipping_method",
            "shipping_address",
            "cancel_reason",
            "holds",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(ActiveHoldSerializer(many=True))
    def get_holds(self, order: Order) -> list[dict]:
        return order_holds_representation(order)

    def to_representation(self, order: Order) -> dict:
        return order_representation(order)

    def generic_representation(self, order: Order) -> dict:
        return super().to_representation(order)


# Unbound field instances do the value formatting exactly as the declared fields do.
_MONEY = serializers.DecimalField(**MONEY)
_DATETIME = serializers.DateTimeField()
_ADDRESS_OPTIONAL = {"line2": "", "region": ""}  # AddressSerializer's defaults


def _text(value) -> str | None:
    return None if value is None else str(value)


def _address(address: dict | None) -> dict | None:
    if address is None:
        return None
    return {
        name: _text(address[name] if name in address else _ADDRESS_OPTIONAL[name])
        for name in AddressSerializer._declared_fields
    }


def order_line_representation(line: OrderLine) -> dict:
    return {
        "sku": line.sku,
        "name": line.name,
        "quantity": line.quantity,
        "unit_price": _MONEY.to_representation(line.unit_price),
        "line_total": _MONEY.to_representation(line.line_total),
        "quantity_shipped": line.quantity_shipped,
        "quantity_returned": line.quantity_returned,
    }


def order_representation(order: Order) -> dict:
    """OrderSerializer's output for `order`; reads `order.market` and
    `order.lines.all()`, so select and prefetch them for lists."""
    money = _MONEY.to_representation
    return {
        "number": _text(order.number),
        "status": _text(order.status),
        "market": order.market.code,
        "currency": order.currency,
        "items": [order_line_representation(line) for line in order.lines.all()],
        "subtotal": money(order.subtotal),
        "discount": money(order.discount),
        "shipping": money(order.shipping),
        "tax": money(order.tax),
        "total": money(order.total),
        "tax_exempt": order.tax_exempt,
        "promo_code": order.promo_code,
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "shipping_method": order.shipping_method,
        "shipping_address": _address(order.shipping_address),
        "cancel_reason": order.cancel_reason,
        "holds": order_holds_representation(order),
        "created_at": _DATETIME.to_representation(order.created_at),
        "updated_at": _DATETIME.to_representation(order.updated_at),
    }


class OrderEventSerializer(serializers.ModelSerializer):
    """With `customer_view` in the context, the history as the customer reads
    it: the customer-facing reason where the staff's reason is internal."""

    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "actor", "reason", "at"]

    def to_representation(self, event: OrderEvent) -> dict:
        data = super().to_representation(event)
        if self.context.get("customer_view") and event.customer_reason:
            data["reason"] = event.customer_reason
        return data


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ShippingMethodSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(**MONEY)
    free_over = serializers.DecimalField(**MONEY, allow_null=True)

    class Meta:
        model = ShippingMethod
        fields = ["code", "name", "price", "free_over"]


class MarketSerializer(serializers.ModelSerializer):
    shipping_methods = ShippingMethodSerializer(many=True)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    cod_limit = serializers.DecimalField(**MONEY, allow_null=True)
    review_amount = serializers.DecimalField(**MONEY)
    payment_methods = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Market
        fields = [
            "code",
            "name",
            "currency",
            "country",
            "payment_methods",
            "shipping_methods",
            "prices_include_tax",
            "tax_rate",
            "cod_limit",
            "review_amount",
            "return_window_days",
        ]
