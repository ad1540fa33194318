"""API shapes for returns. Input serializers check shape only; the rules
(what may be returned, and when) live in `returns.services`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import StrictIntegerField

from ..models import Condition, Resolution, ReturnEvent, ReturnLine, ReturnReason, ReturnRequest

MONEY = {"max_digits": 12, "decimal_places": 2}

# DRF's generic codes → API.md detail codes for POST /returns/ and /receive/.
RETURN_INPUT_CODES = {
    "order:*": "ORDER_NOT_FOUND",
    "reason:*": "INVALID_REASON",
    "resolution:*": "INVALID_RESOLUTION",
    "items:REQUIRED": "ITEMS_REQUIRED",
    "items:NULL": "ITEMS_REQUIRED",
    "items:EMPTY": "ITEMS_REQUIRED",
    "items:NOT_A_LIST": "ITEMS_REQUIRED",
    "items:MAX_LENGTH": "TOO_MANY_ITEMS",
    "items[].sku:*": "PRODUCT_NOT_FOUND",
    "items[].quantity:*": "INVALID_QUANTITY",
    "items[].replacement_sku:*": "REPLACEMENT_UNAVAILABLE",
    "items[].condition:*": "INVALID_CONDITION",
}


class ReturnItemInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=1000)
    replacement_sku = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text='With "resolution": "replacement": another SKU at the same price '
        "in the order's market (default: the same SKU).",
    )


class ReturnCreateInputSerializer(serializers.Serializer):
    order = serializers.CharField(max_length=20, help_text="The order's number.")
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    items = serializers.ListField(
        child=ReturnItemInputSerializer(), allow_empty=False, max_length=50
    )
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    resolution = serializers.ChoiceField(
        choices=Resolution.choices, required=False, default=Resolution.REFUND
    )


class ReturnNoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ReturnReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReturnRejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class ReturnPickupInputSerializer(serializers.Serializer):
    pickup_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    carrier = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )


class ReturnReceivedItemInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=1000)
    condition = serializers.ChoiceField(choices=Condition.choices)


class ReturnReceiveInputSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=ReturnReceivedItemInputSerializer(), allow_empty=False, max_length=100
    )


class ReturnItemSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="order_line.name")
    unit_price = serializers.DecimalField(**MONEY, source="order_line.unit_price")
    replacement_sku = serializers.SerializerMethodField()
    quantity_received = serializers.IntegerField()
    condition = serializers.ChoiceField(
        choices=[*Condition.choices, ("mixed", "Mixed")],
        allow_null=True,
        help_text="null until received; mixed when some units are resellable, some damaged.",
    )

    class Meta:
        model = ReturnLine
        fields = [
            "sku",
            "name",
            "quantity",
            "unit_price",
            "replacement_sku",
            "quantity_received",
            "quantity_resellable",
            "quantity_damaged",
            "condition",
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_replacement_sku(self, line: ReturnLine) -> str | None:
        if line.return_request.resolution != Resolution.REPLACEMENT:
            return None
        return line.replacement_product.sku if line.replacement_product_id else line.sku


class ReturnEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = ReturnEvent
        fields = ["from_status", "to_status", "actor", "reason", "at"]


class ReturnSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    market = serializers.CharField(source="order.market.code")
    currency = serializers.CharField(source="order.currency")
    items = ReturnItemSerializer(source="lines", many=True)
    refund_amount = serializers.DecimalField(
        **MONEY, allow_null=True, help_text="null until the refund is issued."
    )
    replacement_order = serializers.CharField(
        source="replacement_order.number", allow_null=True, default=None
    )
    replacement_error = serializers.CharField(
        help_text="REPLACEMENT_OUT_OF_STOCK while the replacement could not be reserved."
    )
    history = ReturnEventSerializer(source="events", many=True)

    class Meta:
        model = ReturnRequest
        fields = [
            "number",
            "status",
            "order",
            "market",
            "currency",
            "reason",
            "resolution",
            "comment",
            "items",
            "refund_amount",
            "rejection_reason",
            "pickup_at",
            "carrier",
            "tracking_number",
            "replacement_order",
            "replacement_error",
            "created_at",
            "updated_at",
            "approved_at",
            "received_at",
            "processed_at",
            "refunded_at",
            "history",
        ]
