"""The marketplace order payload (API.md "Marketplace order payload") and the
webhook's answers. Shape only: whether the SKUs, market and stock exist is the
import service's business (an order that cannot be placed now is held)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from core.fields import StrictIntegerField

from ..models import OrderStatus
from ..serializers import MONEY, AddressSerializer

MAX_LINES = 100

# DRF's generic codes → API.md detail codes, as for POST /orders/.
PAYLOAD_CODES = {
    "items:REQUIRED": "ITEMS_REQUIRED",
    "items:NULL": "ITEMS_REQUIRED",
    "items:EMPTY": "ITEMS_REQUIRED",
    "items:NOT_A_LIST": "ITEMS_REQUIRED",
    "items:MAX_LENGTH": "TOO_MANY_ITEMS",
    "items[].quantity:MIN_VALUE": "INVALID_QUANTITY",
    "items[].quantity:MAX_VALUE": "INVALID_QUANTITY",
    "items[].quantity:INVALID": "INVALID_QUANTITY",
    "items[].quantity:REQUIRED": "INVALID_QUANTITY",
    "items[].quantity:NULL": "INVALID_QUANTITY",
    "shipping_address:*": "ADDRESS_INCOMPLETE",
    "shipping_address.*:REQUIRED": "ADDRESS_INCOMPLETE",
    "shipping_address.*:BLANK": "ADDRESS_INCOMPLETE",
    "shipping_address.*:NULL": "ADDRESS_INCOMPLETE",
    "shipping_address.*:INVALID": "ADDRESS_INCOMPLETE",
    "shipping_address.*:MAX_LENGTH": "ADDRESS_INCOMPLETE",
    "shipping_address.phone:INVALID_PHONE": "INVALID_PHONE",
}


MAX_AMOUNT = Decimal("1e10")


class ChannelBuyerSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")


class ChannelOrderItemSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=10_000)
    unit_price = serializers.DecimalField(**MONEY, min_value=Decimal("0"))


class ChannelOrderPayloadSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100)
    market = serializers.CharField(max_length=8)
    placed_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    buyer = ChannelBuyerSerializer()
    shipping_address = AddressSerializer()
    items = serializers.ListField(
        child=ChannelOrderItemSerializer(), allow_empty=False, max_length=MAX_LINES
    )
    shipping = serializers.DecimalField(**MONEY, min_value=Decimal("0"), default=Decimal("0.00"))
    discount = serializers.DecimalField(
        **MONEY,
        min_value=Decimal("0"),
        default=Decimal("0.00"),
        help_text="Extension: the seller's discount on the goods, if the channel reports one.",
    )
    tax = serializers.DecimalField(
        **MONEY,
        min_value=Decimal("0"),
        required=False,
        allow_null=True,
        default=None,
        help_text="Extension: the tax the channel charged; derived from the totals when absent.",
    )
    total = serializers.DecimalField(**MONEY, min_value=Decimal("0"))
    paid = serializers.BooleanField(
        help_text="True: the channel collected the money (recorded as captured at import). "
        "False: cash on delivery (recorded as collected when delivered)."
    )
    shipping_method = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="Extension: one of the market's shipping method codes; "
        "the market's cheapest active method when absent.",
    )

    def validate_external_id(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.", code="blank")
        return value

    def validate(self, attrs):
        prices: dict[str, Decimal] = {}
        for i, item in enumerate(attrs["items"]):
            seen = prices.setdefault(item["sku"], item["unit_price"])
            if seen != item["unit_price"]:
                raise serializers.ValidationError(
                    {
                        f"items[{i}].sku": serializers.ErrorDetail(
                            f"{item['sku']} appears twice with different prices.",
                            code="duplicate_item",
                        )
                    }
                )
        subtotal = sum((i["unit_price"] * i["quantity"] for i in attrs["items"]), Decimal("0"))
        if subtotal >= MAX_AMOUNT:  # line totals and sums must fit numeric(12, 2)
            raise serializers.ValidationError(
                {
                    "items": serializers.ErrorDetail(
                        "The order's amounts are too large.", code="amount_too_large"
                    )
                }
            )
        if attrs["discount"] > subtotal:
            raise serializers.ValidationError(
                {
                    "discount": serializers.ErrorDetail(
                        "The discount is more than the goods are worth.", code="invalid"
                    )
                }
            )
        return attrs


class ChannelOrderImportedSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="The Orderly order number.")
    status = serializers.ChoiceField(
        choices=OrderStatus.choices,
        help_text="The order's status as imported (`pending`: its confirmation follows); "
        "GET /api/v1/orders/{number}/ shows where it is now.",
    )


class ChannelOrderHeldSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='Always "held".')
    reason = serializers.CharField(help_text="A detail code, e.g. PRODUCT_NOT_FOUND.")
