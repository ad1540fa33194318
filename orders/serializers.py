"""API shapes for orders. Input serializers check shape only; business rules
live in services."""

from __future__ import annotations

import phonenumbers
from rest_framework import serializers

from .models import Market, Order, OrderEvent, OrderLine, ShippingMethod

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
    quantity = serializers.IntegerField(min_value=1, max_value=100)


class OrderPlaceInputSerializer(serializers.Serializer):
    market = serializers.CharField(max_length=8)
    items = serializers.ListField(
        child=OrderItemInputSerializer(), allow_empty=False, max_length=50
    )
    shipping_method = serializers.CharField(max_length=32)
    shipping_address = AddressSerializer()
    payment_method = serializers.CharField(max_length=16)
    payment_token = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default=""
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


class OrderSerializer(serializers.ModelSerializer):
    market = serializers.CharField(source="market.code")
    items = OrderLineSerializer(source="lines", many=True)
    subtotal = serializers.DecimalField(**MONEY)
    discount = serializers.DecimalField(**MONEY)
    shipping = serializers.DecimalField(**MONEY)
    tax = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    shipping_address = AddressSerializer()

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
            "created_at",
            "updated_at",
        ]


class OrderEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "actor", "reason", "at"]


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
