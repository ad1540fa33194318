"""The built-in deterministic test gateway (API.md, "Built-in test payment gateway").

Every answer is a pure function of the arguments, so authorize can run in the web
process and capture/refund in a Celery worker without shared state, and the same
idempotency key always gives the same result. `TestGateway.calls` records calls made
in this process, for tests to assert on; correctness never depends on it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from core.parsers import loads_bounded
from core.signatures import signature_valid

from .base import (
    GatewayError,
    GatewayResult,
    PaymentGateway,
    WebhookEvent,
    WebhookPayloadError,
    WebhookSignatureError,
    get_header,
)

SIGNATURE_HEADER = "X-Orderly-Signature"
RISK_LOW = 5
RISK_HIGH = 90


@dataclass(frozen=True)
class RecordedCall:
    operation: str
    kwargs: dict[str, Any]
    result: GatewayResult | None  # None when the call raised GatewayError


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class TestGateway(PaymentGateway):
    __test__ = False  # not a pytest test class, despite the name

    name = "test"
    supports_partial_capture = True
    supports_multiple_captures = True

    supports_incremental_authorization = True

    calls: ClassVar[list[RecordedCall]] = []
    # Authorizations (references) whose increments the issuer declines, for tests.
    declining_increments: ClassVar[set[str]] = set()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, webhook_secret: str | None = None) -> None:
        self.webhook_secret = webhook_secret

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.calls.clear()
            cls.declining_increments.clear()

    @classmethod
    def calls_for(cls, operation: str) -> list[RecordedCall]:
        return [c for c in cls.calls if c.operation == operation]

    def _record(self, operation: str, kwargs: dict, result: GatewayResult | None) -> None:
        with self._lock:
            self.calls.append(RecordedCall(operation, dict(kwargs), result))

    def authorize(
        self, *, amount: Decimal, currency: str, token: str, idempotency_key: str, metadata: dict
    ) -> GatewayResult:
        kwargs = {
            "amount": amount,
            "currency": currency,
            "token": token,
            "idempotency_key": idempotency_key,
            "metadata": metadata,
        }
        if token == "tok_timeout":
            self._record("authorize", kwargs, None)
            raise GatewayError("test gateway: simulated timeout")
        reference = f"test_pi_{_digest(idempotency_key)}"
        if token in ("tok_visa", "tok_riskHigh"):
            result = GatewayResult(
                ok=True,
                status="authorized",
                reference=reference,
                amount=amount,
                risk_score=RISK_HIGH if token == "tok_riskHigh" else RISK_LOW,
            )
        elif token == "tok_chargeDeclined":
            result = GatewayResult(
                ok=False,
                status="declined",
                reference=reference,
                decline_code="card_declined",
                message="Your card was declined.",
            )
        else:
            result = GatewayResult(
                ok=False,
                status="declined",
                decline_code="invalid_token",
                message="Unknown payment token.",
            )
        self._record("authorize", kwargs, result)
        return result

    def capture(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        final: bool = True,
    ) -> GatewayResult:
        kwargs = {
            "reference": reference,
            "amount": amount,
            "currency": currency,
            "idempotency_key": idempotency_key,
            "final": final,
        }
        result = self._on_payment(reference, amount, "captured")
        self._record("capture", kwargs, result)
        return result

    def increment_authorization(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        kwargs = {
            "reference": reference,
            "amount": amount,
            "currency": currency,
            "idempotency_key": idempotency_key,
        }
        if reference in self.declining_increments:
            result = GatewayResult(
                ok=False,
                status="declined",
                reference=reference,
                decline_code="insufficient_funds",
                message="The card cannot hold more.",
            )
        else:
            result = self._on_payment(reference, amount, "authorized")
        self._record("increment_authorization", kwargs, result)
        return result

    def void(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        result = self._on_payment(reference, Decimal("0.00"), "voided")
        self._record("void", {"reference": reference, "idempotency_key": idempotency_key}, result)
        return result

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        kwargs = {
            "reference": reference,
            "amount": amount,
            "currency": currency,
            "idempotency_key": idempotency_key,
        }
        result = self._on_payment(reference, amount, "refunded")
        if result.ok:
            # The refund's own id, derived from the key like every other test reference.
            result = GatewayResult(
                ok=True,
                status="refunded",
                reference=f"test_re_{_digest(idempotency_key)}",
                amount=amount,
            )
        self._record("refund", kwargs, result)
        return result

    @staticmethod
    def _on_payment(reference: str, amount: Decimal, status: str) -> GatewayResult:
        if not reference.startswith("test_pi_"):
            return GatewayResult(
                ok=False,
                status="failed",
                decline_code="invalid_reference",
                message=f"No such payment: {reference!r}.",
            )
        if amount < 0:
            return GatewayResult(ok=False, status="failed", message="Amount must be positive.")
        return GatewayResult(ok=True, status=status, reference=reference, amount=amount)

    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        if not self.webhook_secret:
            raise WebhookSignatureError("no webhook secret configured for the test gateway")
        if not signature_valid(payload, self.webhook_secret, get_header(headers, SIGNATURE_HEADER)):
            raise WebhookSignatureError("bad signature")
        try:
            body = loads_bounded(payload)
            amount = body.get("amount")
            return WebhookEvent(
                id=str(body["id"]),
                type=str(body["type"]),
                reference=str(body.get("reference") or ""),
                amount=None if amount is None else Decimal(str(amount)),
                data=body,
            )
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            InvalidOperation,
        ) as exc:
            raise WebhookPayloadError(f"unreadable webhook body: {exc}") from exc
