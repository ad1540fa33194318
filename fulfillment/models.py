"""Shipments (several per order, each from one warehouse), their lines and the
carrier's tracking events. Shipping methods are `orders.ShippingMethod`: one
per market, priced on the order, so they are not duplicated here.

Cross-app foreign keys are strings, so this module imports no other app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception (carrier problem)"
    CANCELLED = "cancelled", "Cancelled"


S = ShipmentStatus
# Still in the warehouse: these can be cancelled and appear on pick lists.
OPEN = [S.PENDING, S.PACKED]
# The goods have left the warehouse.
LEFT_WAREHOUSE = [S.SHIPPED, S.IN_TRANSIT, S.DELIVERED, S.EXCEPTION]


def _actor_field() -> models.ForeignKey:
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class Shipment(FSMModelMixin, models.Model):
    number = models.CharField(max_length=20, unique=True, null=True, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments")
    warehouse = models.ForeignKey(
        "inventory.Warehouse", on_delete=models.PROTECT, related_name="shipments"
    )
    status = FSMField(default=S.PENDING, choices=S.choices, protected=True, db_index=True)
    carrier = models.CharField(max_length=32, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True, db_index=True)
    # Who did each action; empty = the system (a worker, a carrier's event).
    created_by = _actor_field()
    packed_by = _actor_field()
    shipped_by = _actor_field()
    delivered_by = _actor_field()
    cancelled_by = _actor_field()

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    packed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)

    # Worker markers: each step of the ship task runs once, however often the
    # task is delivered (see fulfillment.services.shipping).
    stock_moved_at = models.DateTimeField(
        null=True, blank=True, help_text="Units taken off stock and counted as shipped."
    )
    capture_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="This shipment's share of the payment, fixed once; 0 = nothing to capture.",
    )
    captured_at = models.DateTimeField(null=True, blank=True)
    capture_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The carrier webhook finds the shipment by (carrier, tracking number).
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="uniq_tracking_per_carrier",
            ),
            models.CheckConstraint(
                condition=Q(capture_amount__isnull=True) | Q(capture_amount__gte=0),
                name="shipment_capture_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"shipment#{self.pk}"

    # Transitions set state and timestamps only; services save, audit and enqueue.
    @transition(field=status, source=S.PENDING, target=S.PACKED)
    def pack(self, *, at) -> None:
        self.packed_at = at

    # Shipping straight from pending packs implicitly (one scan at the dock).
    @transition(field=status, source=OPEN, target=S.SHIPPED)
    def ship(self, *, carrier: str, tracking_number: str, at) -> None:
        self.carrier = carrier
        self.tracking_number = tracking_number
        self.packed_at = self.packed_at or at
        self.shipped_at = at

    # A carrier may report movement again after an exception was cleared.
    @transition(field=status, source=[S.SHIPPED, S.EXCEPTION], target=S.IN_TRANSIT)
    def mark_in_transit(self) -> None:
        pass

    @transition(field=status, source=[S.SHIPPED, S.IN_TRANSIT], target=S.EXCEPTION)
    def mark_exception(self) -> None:
        pass

    @transition(field=status, source=[S.SHIPPED, S.IN_TRANSIT, S.EXCEPTION], target=S.DELIVERED)
    def deliver(self, *, at) -> None:
        self.delivered_at = at

    @transition(field=status, source=OPEN, target=S.CANCELLED)
    def cancel(self, *, reason: str, at) -> None:
        self.cancel_reason = reason[:255]
        self.cancelled_at = at


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "order_line"], name="uniq_shipment_order_line"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="shipment_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"


class TrackingStatus(models.TextChoices):
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"


class TrackingEvent(models.Model):
    """What a carrier told us, kept as received (append-only). One row per
    carrier event id: a repeated event is recognised and changes nothing."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    carrier = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=TrackingStatus.choices)
    location = models.CharField(max_length=255, blank=True)
    description = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(
        max_length=16, blank=True, help_text="applied, or recorded (did not move the shipment)."
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "event_id"], name="uniq_carrier_event")
        ]

    def __str__(self) -> str:
        return f"{self.carrier}:{self.event_id} {self.status}"
