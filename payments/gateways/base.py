"""The interface every payment gateway adapter implements.

Adapters are pure Python: they talk to the gateway and translate its answers into
`GatewayResult`/`WebhookEvent`; they never touch the database. Declines are results
(`ok=False`), transient trouble (timeouts, connection errors, 5xx) is `GatewayError`
so that the caller can retry with the same idempotency key.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class GatewayResult:
    ok: bool
    # "pending" | "authorized" | "captured" | "voided" | "refunded" | "declined" | "failed"
    status: str
    reference: str = ""
    amount: Decimal = Decimal("0.00")
    risk_score: int | None = None
    decline_code: str = ""
    message: str = ""
    raw: dict = field(default_factory=dict)


class GatewayError(Exception):
    """Transient failure (timeout, connection, 5xx, rate limit): retry with the same key."""


class WebhookSignatureError(Exception):
    """Missing or bad signature, or no secret configured: refuse with 401."""


class WebhookPayloadError(WebhookSignatureError):
    """Correctly signed but unreadable body. A subclass so that callers catching
    `WebhookSignatureError` still refuse it; a view may answer 400 instead of 401."""


class EventType:
    """Normalised webhook event types. Amounts on these events are cumulative for the
    payment (total captured / total refunded so far at the gateway), so applying an
    event twice, or out of order, cannot double-count. Other gateway event types are
    passed through with their own name and are ignored by the services."""

    AUTHORIZED = "payment.authorized"
    CAPTURED = "payment.captured"
    FAILED = "payment.failed"
    VOIDED = "payment.voided"
    REFUNDED = "payment.refunded"


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    reference: str
    amount: Decimal | None
    data: dict


class PaymentGateway(ABC):
    name: str
    supports_partial_capture: bool
    supports_multiple_captures: bool

    @abstractmethod
    def authorize(
        self, *, amount: Decimal, currency: str, token: str, idempotency_key: str, metadata: dict
    ) -> GatewayResult: ...

    @abstractmethod
    def capture(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        final: bool = True,
    ) -> GatewayResult: ...

    @abstractmethod
    def void(self, *, reference: str, idempotency_key: str) -> GatewayResult: ...

    # Raising an authorization in place (an order edit that costs more). Gateways
    # that cannot say so; the edit is then refused before anything changes.
    supports_incremental_authorization: bool = False

    def increment_authorization(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        """Hold `amount` in all (the new total, not the difference) on the
        authorization `reference`. ok=True with status "authorized" and the new
        amount, or a decline (the old hold stays as it was)."""
        raise NotImplementedError(f"{self.name} cannot raise an authorization")

    @abstractmethod
    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult: ...

    @abstractmethod
    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent: ...


def get_header(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive header lookup (Django's `request.headers` is, a plain dict is not)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value or ""


# ISO 4217 currencies whose smallest unit is not 1/100 of the major unit, as gateways
# count them (Stripe's list; Razorpay agrees for the ones it supports).
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
CENT = Decimal("0.01")


def minor_unit_exponent(currency: str) -> int:
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    scaled = Decimal(amount).scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def from_minor_units(value: int, currency: str) -> Decimal:
    return Decimal(int(value)).scaleb(-minor_unit_exponent(currency)).quantize(CENT)


MAX_EVENT_ID = 255


def check_event(event: WebhookEvent) -> WebhookEvent:
    """What any gateway's parsed event must satisfy before it reaches the
    database: ids that fit, a finite amount, and no NUL anywhere (PostgreSQL
    text and jsonb refuse it). Raises WebhookPayloadError (a 400)."""
    if not event.id or len(event.id) > MAX_EVENT_ID or len(event.reference) > MAX_EVENT_ID:
        raise WebhookPayloadError("event id and reference must be 1 to 255 characters")
    if event.amount is not None and not event.amount.is_finite():
        raise WebhookPayloadError("amount must be a finite number")
    text = json.dumps([event.id, event.type, event.reference, event.data], default=str)
    if "\\u0000" in text:
        raise WebhookPayloadError("NUL characters are not allowed")
    return event
