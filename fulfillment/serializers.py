"""API shapes for fulfillment. Input serializers check shape only; business
rules (over-shipping, warehouses, states) live in services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import StrictIntegerField

from .carriers import tracking_url
from .models import Shipment, ShipmentLine, ShipmentStatus, TrackingEvent, TrackingStatus

# DRF's generic codes → detail codes for POST /orders/{number}/shipments/.
SHIPMENT_INPUT_CODES = {
    "items:REQUIRED": "ITEMS_REQUIRED",
    "items:NULL": "ITEMS_REQUIRED",
    "items:EMPTY": "ITEMS_REQUIRED",
    "items:NOT_A_LIST": "ITEMS_REQUIRED",
    "items:MAX_LENGTH": "TOO_MANY_ITEMS",
    "items[].quantity:*": "INVALID_QUANTITY",
    "items[].sku:*": "UNKNOWN_ITEM",
    "warehouse:*": "WAREHOUSE_NOT_FOUND",
}


def status_field(choices: type, help_text: str) -> serializers.CharField:
    """A read-only status with its values inlined in the schema: several
    components have a `status` with other values, and named enums would collide."""

    @extend_schema_field({"type": "string", "enum": list(choices.values)})
    class StatusField(serializers.CharField):
        pass

    return StatusField(read_only=True, help_text=help_text)


class ShipmentItemInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=100000)


class ShipmentCreateInputSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=ShipmentItemInputSerializer(), allow_empty=False, max_length=200
    )
    warehouse = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text="Warehouse code. Default: the one holding the order's reservations "
        "for every requested item.",
    )


class ShipmentShipInputSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=32, help_text='e.g. "manual" or "test".')
    tracking_number = serializers.CharField(max_length=100)


class ShipmentCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ShipmentItemSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="order_line.sku")

    class Meta:
        model = ShipmentLine
        fields = ["sku", "quantity"]


class ShipmentSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    warehouse = serializers.CharField(source="warehouse.code")
    tracking_url = serializers.SerializerMethodField()
    status = status_field(ShipmentStatus, "The shipment's state.")
    items = ShipmentItemSerializer(source="lines", many=True)

    class Meta:
        model = Shipment
        fields = [
            "number",
            "order",
            "status",
            "warehouse",
            "carrier",
            "tracking_number",
            "tracking_url",
            "items",
            "created_at",
            "packed_at",
            "shipped_at",
            "delivered_at",
            "cancelled_at",
        ]

    def get_tracking_url(self, obj: Shipment) -> str:
        return tracking_url(obj.carrier, obj.tracking_number)


class TrackingEventSerializer(serializers.ModelSerializer):
    status = status_field(TrackingStatus, "What the carrier reported.")

    class Meta:
        model = TrackingEvent
        fields = ["status", "location", "description", "occurred_at"]


class TrackingShipmentSerializer(ShipmentSerializer):
    # A plain string here: the same enum in two components has no single name.
    status = serializers.CharField(
        read_only=True, help_text="The shipment's state (values as in Shipment.status)."
    )
    events = TrackingEventSerializer(many=True)

    class Meta(ShipmentSerializer.Meta):
        fields = [
            "number",
            "status",
            "carrier",
            "tracking_number",
            "tracking_url",
            "items",
            "events",
            "shipped_at",
            "delivered_at",
        ]


class OrderTrackingSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="The order's status.")
    shipments = TrackingShipmentSerializer(many=True)


class CarrierWebhookResultSerializer(serializers.Serializer):
    status = serializers.CharField(
        help_text="applied, recorded (kept, state unchanged) or duplicate."
    )
    shipment = serializers.CharField(required=False)
    shipment_status = serializers.CharField(required=False)
