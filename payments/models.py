"""Payments, refunds, the log of gateway calls and of gateway webhooks seen.

Transition methods only set state, amounts and timestamps (no I/O, no save); the
services in `payments.services` lock rows, call gateways and save.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from .gateways.base import GatewayResult

ZERO = Decimal("0.00")


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **kwargs)


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    UPI = "upi", "UPI"
    COD = "cod", "Cash on delivery"


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"


# A payment in these states holds (or has taken) money a shipment can capture from.
CAPTURABLE_STATUSES = (
    PaymentStatus.AUTHORIZED,
    PaymentStatus.CAPTURED,
    PaymentStatus.PARTIALLY_REFUNDED,
)


def _pending_capture_is_cash(payment: Payment) -> bool:
    # Only cash on delivery is captured straight from "pending" (nothing is authorized).
    return payment.status != PaymentStatus.PENDING or payment.is_cash


class Payment(ConcurrentTransitionMixin, models.Model):
    # Stable and unique across databases: the stem of our gateway idempotency keys.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="payment")
    gateway = models.CharField(max_length=32)
    method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    # The client's one-time token; blanked once the gateway has answered. Never exposed.
    token = models.CharField(max_length=255, blank=True)
    currency = models.CharField(max_length=3)
    amount = _money(help_text="What the order costs.")
    amount_authorized = _money(default=ZERO)
    amount_captured = _money(default=ZERO)
    amount_refunded = _money(default=ZERO)
    reference = models.CharField(max_length=255, blank=True, help_text="The gateway's id")
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    decline_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    void_reason = models.CharField(max_length=255, blank=True)
    status = FSMField(
        default=PaymentStatus.PENDING,
        choices=PaymentStatus.choices,
        protected=True,
        max_length=24,
        db_index=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["gateway", "reference"]),
            # The admin list: newest first, by currency, and its date hierarchy.
            models.Index(fields=["-created_at"], name="payment_created_idx"),
            models.Index(fields=["currency", "-created_at"], name="payment_currency_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                name="payment_amounts_not_negative",
                condition=Q(amount__gte=0)
                & Q(amount_authorized__gte=0)
                & Q(amount_captured__gte=0)
                & Q(amount_refunded__gte=0),
            ),
            models.CheckConstraint(
                name="payment_captured_within_authorized",
                condition=Q(amount_captured__lte=F("amount_authorized")),
            ),
            models.CheckConstraint(
                name="payment_refunded_within_captured",
                condition=Q(amount_refunded__lte=F("amount_captured")),
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.pk} ({self.status}) {self.amount} {self.currency}"

    @property
    def is_cash(self) -> bool:
        return self.method == PaymentMethod.COD

    @property
    def open_for_capture(self) -> bool:
        """An authorization a capture may still draw on: authorized, captured in
        part or whole (and maybe refunded since). A shipment's capture that was
        refunded in full leaves the rest of the authorization for later ones."""
        if self.status in CAPTURABLE_STATUSES:
            return True
        return (
            self.status == PaymentStatus.REFUNDED and self.amount_authorized > self.amount_captured
        )

    @property
    def covers_shipping(self) -> bool:
        """Goods may leave against this payment: cash is collected on delivery;
        otherwise money must be held or taken (not pending, voided, failed, or
        refunded with nothing left to capture)."""
        return self.is_cash or self.open_for_capture

    @transition(field=status, source=PaymentStatus.PENDING, target=PaymentStatus.AUTHORIZED)
    def authorize(self, *, amount: Decimal, reference: str, risk_score: int | None, at) -> None:
        self.amount_authorized = amount
        self.reference = reference
        self.risk_score = risk_score
        self.authorized_at = at
        self.token = ""

    @transition(field=status, source=PaymentStatus.PENDING, target=PaymentStatus.FAILED)
    def fail(self, *, decline_code: str, message: str) -> None:
        self.decline_code = decline_code[:64]
        self.failure_message = message[:500]
        self.token = ""

    @transition(
        field=status,
        source=[
            PaymentStatus.PENDING,
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
            PaymentStatus.PARTIALLY_REFUNDED,
            PaymentStatus.REFUNDED,  # the rest of an authorization (see open_for_capture)
        ],
        target=RETURN_VALUE(PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED),
        conditions=[_pending_capture_is_cash],
    )
    def capture(self, *, amount: Decimal, at) -> str:
        """Partial captures add up; the status stays "captured" while more arrive."""
        # Cash is "authorized" the moment it is collected.
        authorized = self.amount_authorized + amount if self.is_cash else self.amount_authorized
        if amount <= 0 or self.amount_captured + amount > authorized:
            raise ValueError("capture must be positive and within the authorized amount")
        self.amount_authorized = authorized
        self.amount_captured += amount
        self.captured_at = self.captured_at or at
        if self.amount_refunded:
            return PaymentStatus.PARTIALLY_REFUNDED
        return PaymentStatus.CAPTURED

    @transition(
        field=status,
        source=[PaymentStatus.PENDING, PaymentStatus.AUTHORIZED],
        target=PaymentStatus.VOIDED,
    )
    def void(self, *, reason: str) -> None:
        self.void_reason = reason[:255]
        self.token = ""

    @transition(
        field=status,
        source=[PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED],
        target=RETURN_VALUE(PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED),
    )
    def refund(self, *, amount: Decimal) -> str:
        if amount <= 0 or self.amount_refunded + amount > self.amount_captured:
            raise ValueError("refund must be positive and within the captured amount")
        self.amount_refunded += amount
        if self.amount_refunded == self.amount_captured:
            return PaymentStatus.REFUNDED
        return PaymentStatus.PARTIALLY_REFUNDED


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(ConcurrentTransitionMixin, models.Model):
    """A refund is written `pending` before the gateway is asked: pending refunds
    count against the refundable ceiling, so concurrent refunds cannot overshoot."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = _money()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=255, blank=True)
    source = models.CharField(
        max_length=100, blank=True, help_text='e.g. "return:RMA-000001", "staff", "cancel"'
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = FSMField(
        default=RefundStatus.PENDING,
        choices=RefundStatus.choices,
        protected=True,
        max_length=16,
        db_index=True,
    )
    reference = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    failure_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(name="refund_amount_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk} ({self.status}) {self.amount} {self.currency}"

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.SUCCEEDED)
    def succeed(self, *, reference: str, at) -> None:
        self.reference = reference
        self.completed_at = at

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.FAILED)
    def fail(self, *, message: str, at) -> None:
        self.failure_message = message[:500]
        self.completed_at = at


class GatewayOperation(models.TextChoices):
    AUTHORIZE = "authorize"
    INCREMENT = "increment", "increment authorization"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class GatewayCall(models.Model):
    """One row per gateway idempotency key: every call we make, and its answer.

    Written before the call (so an unanswered capture or refund is known and can be
    retried with the same key), completed once with the gateway's definitive answer,
    never deleted. A completed row is reused instead of calling the gateway again.
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="gateway_calls")
    gateway = models.CharField(max_length=32)
    operation = models.CharField(max_length=16, choices=GatewayOperation.choices)
    idempotency_key = models.CharField(max_length=255, unique=True)
    amount = _money(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(max_length=255, blank=True)
    ok = models.BooleanField(null=True, help_text="Empty until the gateway answered.")
    status = models.CharField(max_length=16, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    response = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True, help_text="Last transient failure, if any.")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.operation} {self.idempotency_key} ({self.status or 'unanswered'})"

    @property
    def done(self) -> bool:
        return self.completed_at is not None

    def as_result(self) -> GatewayResult:
        data = self.response
        return GatewayResult(
            ok=bool(self.ok),
            status=self.status,
            reference=self.reference,
            amount=Decimal(data.get("amount") or "0.00"),
            risk_score=data.get("risk_score"),
            decline_code=data.get("decline_code", ""),
            message=data.get("message", ""),
            raw=data.get("raw", {}),
        )


class PaymentWebhookEvent(models.Model):
    """Gateway events already received: a repeated event id changes nothing twice."""

    gateway = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=64)
    reference = models.CharField(max_length=255, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="webhook_events"
    )
    outcome = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "event_id"], name="payment_webhook_event_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_id} {self.type}"
