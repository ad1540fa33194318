"""Operational records: processing errors (every failed step, deduplicated) and
per-order step timings.

This app sits at the bottom of the dependency graph: every other app may import
it, it imports none of them. Orders are referred to by the string "orders.Order".
Rows are written by `operations.services` only; transition-like methods here
set fields and do no I/O.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ErrorCategory(models.TextChoices):
    IMPORT_VALIDATION = "import_validation", "Import validation"
    PAYMENT = "payment", "Payment"
    INVENTORY = "inventory", "Inventory"
    SHIPPING = "shipping", "Shipping"
    NOTIFICATION = "notification", "Notification"
    EXTERNAL_API = "external_api", "External API"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"


class ProcessingError(models.Model):
    """One failing step of one object. The same failure again (same fingerprint,
    still unresolved) bumps `attempts` and `last_seen_at` instead of adding a row;
    once resolved, a new occurrence opens a new row."""

    category = models.CharField(max_length=32, choices=ErrorCategory.choices, db_index=True)
    severity = models.CharField(
        max_length=16, choices=Severity.choices, default=Severity.ERROR, db_index=True
    )
    # No database constraint on purpose: errors are written on a separate connection
    # while the caller's transaction may hold the order row locked (a foreign-key
    # check would wait on that lock) or may not have committed the order yet.
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="processing_errors",
    )
    reference = models.CharField(
        max_length=255, blank=True, help_text="The object concerned, e.g. a shipment number."
    )
    step = models.CharField(max_length=64, db_index=True, help_text='e.g. "order_confirm"')
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    fingerprint = models.CharField(max_length=64, editable=False)
    attempts = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved = models.BooleanField(default=False, db_index=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            # The dedupe key: at most one open row per fingerprint.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(resolved=False),
                name="processing_error_open_once",
            ),
            models.CheckConstraint(
                condition=Q(resolved=False) | Q(resolved_at__isnull=False),
                name="processing_error_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=1), name="processing_error_attempts_positive"
            ),
        ]

    def __str__(self) -> str:
        target = self.reference or (f"order #{self.order_id}" if self.order_id else "")
        return f"{self.category}/{self.step} {target}".strip()

    def resolve(self, *, actor, note: str, at) -> None:
        self.resolved = True
        self.resolved_by = actor
        self.resolved_at = at
        self.resolution_note = note


class TimingStep(models.TextChoices):
    """The steps the dashboard knows; any other short name may be recorded too."""

    VALIDATION = "validation", "Validation"
    QUEUE_WAIT = "queue_wait", "Queue wait"
    PAYMENT = "payment", "Payment"
    CONFIRMATION = "confirmation", "Confirmation"
    FULFILMENT_LEAD_TIME = "fulfilment_lead_time", "Fulfilment lead time"


class StepTiming(models.Model):
    """How long one step took for one order. Unique per (order, step): recording a
    step again overwrites it, so retries do not skew the percentiles."""

    # Indexed by step_timing_once_per_order (order, step).
    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="step_timings", db_index=False
    )
    # Free text on purpose (TimingStep lists the known ones), so a new step needs
    # no migration.
    step = models.CharField(max_length=64)
    milliseconds = models.FloatField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["step", "recorded_at"]),
            # The admin list (newest first) and the percentile windows (a time range).
            models.Index(fields=["recorded_at", "id"], name="steptiming_recorded_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "step"], name="step_timing_once_per_order"),
            models.CheckConstraint(
                condition=Q(milliseconds__gte=0), name="step_timing_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step} {self.milliseconds:.0f} ms (order #{self.order_id})"
