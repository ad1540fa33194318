"""Return requests (RMAs), their lines and their audit trail.

Transitions set state and timestamps only; `returns.services` locks, checks the
business rules, saves, audits and enqueues the refund."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, FSMModelMixin, transition

ZERO = Decimal("0.00")


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class ReturnReason(models.TextChoices):
    DEFECTIVE = "defective", "Defective"
    DAMAGED_IN_TRANSIT = "damaged_in_transit", "Damaged in transit"
    WRONG_ITEM = "wrong_item", "Wrong item sent"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
    OTHER = "other", "Other"


class ReturnStatus(models.TextChoices):
    INITIATED = "initiated", "Initiated"
    APPROVED = "approved", "Approved"
    PICKUP_SCHEDULED = "pickup_scheduled", "Pickup scheduled"
    IN_TRANSIT = "in_transit", "In transit"
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    REFUNDED = "refunded", "Refunded"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class Resolution(models.TextChoices):
    REFUND = "refund", "Refund"
    REPLACEMENT = "replacement", "Replacement"


class Condition(models.TextChoices):
    RESELLABLE = "resellable", "Resellable"
    DAMAGED = "damaged", "Damaged"


S = ReturnStatus
# Returns that no longer hold any of the order's units.
CLOSED_WITHOUT_GOODS = [S.REJECTED, S.CANCELLED]
RECEIVABLE = [S.PICKUP_SCHEDULED, S.IN_TRANSIT]


class ReturnRequest(FSMModelMixin, models.Model):
    number = models.CharField(max_length=20, unique=True, null=True, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="returns"
    )
    reason = models.CharField(max_length=32, choices=ReturnReason.choices)
    comment = models.TextField(blank=True)
    resolution = models.CharField(
        max_length=16, choices=Resolution.choices, default=Resolution.REFUND
    )
    status = FSMField(default=S.INITIATED, choices=S.choices, protected=True, db_index=True)
    rejection_reason = models.CharField(max_length=255, blank=True)

    pickup_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=32, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True)

    # Refund: goods and shipping are computed once (under the order's lock) and
    # kept, so a retried worker refunds the same figure and later returns of the
    # same order see what was already allotted (shipping once, cent-exact goods).
    refund_goods = _money(null=True, blank=True)
    refund_shipping = _money(default=ZERO)
    refund_amount = _money(null=True, blank=True, help_text="What was actually refunded.")
    refund_note = models.CharField(max_length=255, blank=True)
    refund_error = models.CharField(max_length=500, blank=True)
    refund_attempt = models.PositiveSmallIntegerField(default=0)
    refund = models.ForeignKey(
        "payments.Refund", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refund_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    replacement_order = models.OneToOneField(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacement_for",
    )
    replacement_error = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    pickup_scheduled_at = models.DateTimeField(null=True, blank=True)
    in_transit_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gte=0),
                name="return_refund_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"return#{self.pk}"

    @property
    def refund_due(self) -> Decimal | None:
        if self.refund_goods is None:
            return None
        return self.refund_goods + self.refund_shipping

    @transition(field=status, source=S.INITIATED, target=S.APPROVED)
    def approve(self, *, at) -> None:
        self.approved_at = at

    # Refusable until the goods are in our hands.
    @transition(field=status, source=[S.INITIATED, S.APPROVED], target=S.REJECTED)
    def reject(self, *, reason: str, at) -> None:
        self.rejection_reason = reason[:255]
        self.rejected_at = at

    @transition(field=status, source=S.INITIATED, target=S.CANCELLED)
    def cancel(self, *, at) -> None:
        self.cancelled_at = at

    # Rescheduling a pickup is allowed (pickup_scheduled → pickup_scheduled).
    @transition(field=status, source=[S.APPROVED, S.PICKUP_SCHEDULED], target=S.PICKUP_SCHEDULED)
    def schedule_pickup(self, *, pickup_at, carrier: str, tracking_number: str, at) -> None:
        self.pickup_at = pickup_at
        self.carrier = carrier[:32]
        self.tracking_number = tracking_number[:64]
        self.pickup_scheduled_at = at

    # From approved too: a customer may send the parcel themselves.
    @transition(field=status, source=[S.APPROVED, S.PICKUP_SCHEDULED], target=S.IN_TRANSIT)
    def mark_in_transit(self, *, at) -> None:
        self.in_transit_at = at

    @transition(field=status, source=RECEIVABLE, target=S.RECEIVED)
    def receive(self, *, at) -> None:
        self.received_at = at

    @transition(field=status, source=S.RECEIVED, target=S.PROCESSED)
    def process(self, *, at) -> None:
        self.processed_at = at

    @transition(field=status, source=S.PROCESSED, target=S.REFUNDED)
    def mark_refunded(self, *, amount: Decimal, at) -> None:
        self.refund_amount = amount
        self.refund_error = ""
        self.refunded_at = at


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="return_lines"
    )
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField(help_text="Units the customer asked to return.")
    replacement_product = models.ForeignKey(
        "inventory.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a replacement: what to send instead (same SKU when empty).",
    )
    # Condition on receipt, per unit: a line may come back part resellable, part damaged.
    quantity_resellable = models.PositiveIntegerField(default=0)
    quantity_damaged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_positive"),
            models.CheckConstraint(
                condition=Q(quantity_resellable__lte=F("quantity") - F("quantity_damaged")),
                name="return_line_received_le_quantity",
            ),
            models.UniqueConstraint(
                fields=["return_request", "order_line"], name="uniq_return_line"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def quantity_received(self) -> int:
        return self.quantity_resellable + self.quantity_damaged

    @property
    def condition(self) -> str | None:
        """resellable, damaged, mixed, or None before receipt."""
        if self.quantity_resellable and self.quantity_damaged:
            return "mixed"
        if self.quantity_resellable:
            return Condition.RESELLABLE
        if self.quantity_damaged:
            return Condition.DAMAGED
        return None


class ReturnEvent(models.Model):
    """The return's audit trail: every status change, who made it and why."""

    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Username, or 'system' for workers.")
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.return_request_id}: {self.from_status} → {self.to_status}"
