"""The interface every carrier adapter implements.

Adapters are pure Python: they build tracking links and turn a carrier's
webhook into a `CarrierEvent`; they never touch the database. A request whose
signature does not check out raises `CarrierSignatureError` (the view answers
401 and nothing changes); a correctly signed but unreadable body raises
`CarrierPayloadError` (400)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.parsers import loads_bounded
from core.signatures import signature_valid

SIGNATURE_HEADER = "X-Orderly-Signature"
EVENT_STATUSES = ("in_transit", "delivered", "exception")


@dataclass(frozen=True)
class CarrierEvent:
    event_id: str
    tracking_number: str
    status: str  # one of EVENT_STATUSES
    location: str
    description: str
    occurred_at: datetime
    raw: dict = field(default_factory=dict)


class CarrierSignatureError(Exception):
    """Missing or bad signature, or no secret configured: refuse with 401."""


class CarrierPayloadError(CarrierSignatureError):
    """Signed, but unreadable. A subclass, so that code catching only signature
    errors still refuses it; the view answers 400 instead of 401."""


def get_header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value or ""


class Carrier(ABC):
    name: str

    def __init__(self, *, webhook_secret: str | None = None) -> None:
        self.webhook_secret = webhook_secret

    @abstractmethod
    def tracking_url(self, tracking_number: str) -> str:
        """A link the customer can follow, or "" when the carrier has none."""

    @abstractmethod
    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> CarrierEvent: ...


class OrderlySignedCarrier(Carrier):
    """Carriers that post Orderly's own event format (API.md, "Carrier event
    payload"), signed with HMAC-SHA256 of the raw body. Without a configured
    secret every request is refused."""

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> CarrierEvent:
        if not self.webhook_secret:
            raise CarrierSignatureError(f"no webhook secret configured for carrier {self.name}")
        if not signature_valid(payload, self.webhook_secret, get_header(headers, SIGNATURE_HEADER)):
            raise CarrierSignatureError("bad signature")
        return parse_event(payload)


def parse_event(payload: bytes) -> CarrierEvent:
    try:
        body = loads_bounded(payload)
        has_nul = "\\u0000" in json.dumps(body)  # PostgreSQL text and jsonb refuse NUL
    except (ValueError, UnicodeDecodeError) as exc:
        raise CarrierPayloadError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise CarrierPayloadError("expected a JSON object")
    if has_nul:
        raise CarrierPayloadError("NUL characters are not allowed")
    event_id = _text(body, "event_id", required=True, limit=255)
    tracking_number = _text(body, "tracking_number", required=True, limit=100)
    status = _text(body, "status", required=True, limit=16)
    if status not in EVENT_STATUSES:
        raise CarrierPayloadError(f"status must be one of {', '.join(EVENT_STATUSES)}")
    return CarrierEvent(
        event_id=event_id,
        tracking_number=tracking_number,
        status=status,
        location=_text(body, "location", limit=255),
        description=_text(body, "description", limit=500),
        occurred_at=_when(body.get("occurred_at")),
        raw=body,
    )


def _text(body: dict, key: str, *, required: bool = False, limit: int) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise CarrierPayloadError(f"{key} is required")
        return ""
    if not isinstance(value, str | int):
        raise CarrierPayloadError(f"{key} must be a string")
    return str(value).strip()[:limit]


def _when(value) -> datetime:
    """ISO 8601; a time without a zone is taken as UTC; missing means now."""
    if value in (None, ""):
        return timezone.now()
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise CarrierPayloadError("occurred_at must be an ISO 8601 timestamp")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    try:
        # PostgreSQL stores offsets up to ±15:59 only; UTC always fits.
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise CarrierPayloadError("occurred_at is out of range") from exc
