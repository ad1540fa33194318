"""Notifications to customers and staff, and signed webhooks to integrators.

Transition methods only set state, counters and timestamps (no I/O, no save); the
services in `notifications.services` lock rows, call backends and save.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import models
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from .conf import Backoff

EVENT_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
ALL_EVENTS = "*"
ERROR_LENGTH = 2000


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class NotificationStatus(models.TextChoices):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Notification(ConcurrentTransitionMixin, models.Model):
    recipient = models.CharField(max_length=254, help_text="Email address or E.164 phone.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = models.CharField(max_length=64, help_text="templates/notifications/<template>/")
    context = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    reference = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="e.g. the order number"
    )
    # NULL for "no key": PostgreSQL's unique index lets any number of NULLs through.
    dedupe_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    status = FSMField(  # indexed by (status, next_attempt_at)
        default=NotificationStatus.QUEUED,
        choices=NotificationStatus.choices,
        protected=True,
        max_length=16,
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Times the backend was called.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who last retried it by hand.",
    )
    retried_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel} {self.template} to {self.recipient} ({self.status})"

    @transition(field=status, source=NotificationStatus.QUEUED, target=NotificationStatus.SENT)
    def mark_sent(self, *, at: datetime) -> None:
        self.attempts += 1
        self.last_attempt_at = at
        self.sent_at = at
        self.next_attempt_at = None

    @transition(
        field=status,
        source=NotificationStatus.QUEUED,
        target=RETURN_VALUE(NotificationStatus.QUEUED, NotificationStatus.FAILED),
    )
    def record_failure(self, *, error: str, at: datetime, backoff: Backoff) -> str:
        """A failed backend call: stay queued for a later attempt, or fail at the cap."""
        self.attempts += 1
        self.last_attempt_at = at
        self.last_error = error[:ERROR_LENGTH]
        self.next_attempt_at = backoff.next_attempt_at(self.attempts, at)
        if self.next_attempt_at is None:
            return NotificationStatus.FAILED
        return NotificationStatus.QUEUED

    @transition(field=status, source=NotificationStatus.QUEUED, target=NotificationStatus.FAILED)
    def give_up(self, *, error: str) -> None:
        """A failure no retry can fix (bad address, broken template): fail at once."""
        self.last_error = error[:ERROR_LENGTH]
        self.next_attempt_at = None

    @transition(field=status, source=NotificationStatus.FAILED, target=NotificationStatus.QUEUED)
    def requeue(self, *, by, at: datetime) -> None:
        """Retried by hand: a fresh budget of attempts; the last error stays for reference."""
        self.attempts = 0
        self.next_attempt_at = at
        self.retried_by = by
        self.retried_at = at


def validate_events(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError('List the events, e.g. ["order.confirmed"], or ["*"] for all.')
    for event in value:
        if not isinstance(event, str) or not (event == ALL_EVENTS or EVENT_PATTERN.match(event)):
            raise ValidationError(f"{event!r} is not an event name like order.shipped.")


class WebhookSubscription(models.Model):
    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    secret = models.CharField(
        max_length=255, help_text="Shared with the integrator to verify X-Orderly-Signature."
    )
    events = models.JSONField(
        default=list,
        validators=[validate_events],
        help_text='Event names such as "order.confirmed", "order.shipped"; "*" for all.',
    )
    description = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description or self.url

    def listens_to(self, event: str) -> bool:
        return ALL_EVENTS in self.events or event in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(ConcurrentTransitionMixin, models.Model):
    """One event for one subscription, POSTed until the receiver answers 2xx."""

    # PROTECT: the delivery log outlives a subscription; deactivate it instead.
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.PROTECT, related_name="deliveries"
    )
    event = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    dedupe_key = models.CharField(max_length=255)
    status = FSMField(
        default=DeliveryStatus.PENDING,
        choices=DeliveryStatus.choices,
        protected=True,
        max_length=16,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who last replayed it by hand.",
    )
    replayed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "dedupe_key"], name="webhook_delivery_once"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} ({self.status})"

    @transition(field=status, source=DeliveryStatus.PENDING, target=DeliveryStatus.DELIVERED)
    def mark_delivered(self, *, status_code: int, at: datetime) -> None:
        self.attempts += 1
        self.last_status_code = status_code
        self.delivered_at = at
        self.next_attempt_at = None

    @transition(
        field=status,
        source=DeliveryStatus.PENDING,
        target=RETURN_VALUE(DeliveryStatus.PENDING, DeliveryStatus.FAILED),
    )
    def record_failure(
        self, *, status_code: int | None, error: str, at: datetime, backoff: Backoff
    ) -> str:
        self.attempts += 1
        self.last_status_code = status_code
        self.last_error = error[:ERROR_LENGTH]
        self.next_attempt_at = backoff.next_attempt_at(self.attempts, at)
        if self.next_attempt_at is None:
            return DeliveryStatus.FAILED
        return DeliveryStatus.PENDING

    @transition(field=status, source=DeliveryStatus.PENDING, target=DeliveryStatus.FAILED)
    def give_up(self, *, error: str) -> None:
        self.last_error = error[:ERROR_LENGTH]
        self.next_attempt_at = None

    @transition(
        field=status,
        source=[DeliveryStatus.FAILED, DeliveryStatus.DELIVERED],
        target=DeliveryStatus.PENDING,
    )
    def replay(self, *, by, at: datetime) -> None:
        """Sent again by hand: a fresh budget of attempts; the attempt log keeps history."""
        self.attempts = 0
        self.next_attempt_at = at
        self.delivered_at = None
        self.replayed_by = by
        self.replayed_at = at


class WebhookAttempt(models.Model):
    """Every POST made, append-only: what the receiver answered, or why it could not."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    url = models.URLField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]} at {self.at:%Y-%m-%d %H:%M:%S}"
