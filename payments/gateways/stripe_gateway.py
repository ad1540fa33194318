"""Stripe, through the official SDK's `StripeClient` (no module-level API key).

Authorization is a PaymentIntent confirmed with `capture_method="manual"`; capture,
cancel and refund act on that intent. Without multicapture Stripe allows a single
(possibly partial) capture per intent, which releases the rest of the hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import stripe

from core.parsers import json_depth_ok

from .base import (
    EventType,
    GatewayError,
    GatewayResult,
    PaymentGateway,
    WebhookEvent,
    WebhookPayloadError,
    WebhookSignatureError,
    from_minor_units,
    get_header,
    to_minor_units,
)

SIGNATURE_HEADER = "Stripe-Signature"

# Without Radar for Fraud Teams Stripe gives only `outcome.risk_level`; map it onto
# the 0..100 scale so that orders can still hold the risky ones.
_RISK_LEVEL_SCORES = {"normal": 10, "elevated": 65, "highest": 90}

_EVENT_TYPES = {
    "payment_intent.amount_capturable_updated": EventType.AUTHORIZED,
    "payment_intent.succeeded": EventType.CAPTURED,
    "payment_intent.payment_failed": EventType.FAILED,
    "payment_intent.canceled": EventType.VOIDED,
    "charge.captured": EventType.CAPTURED,
    "charge.refunded": EventType.REFUNDED,
}

# Errors where retrying with the same idempotency key can succeed (or where the
# configuration, not the customer, is at fault: never decline an order for that).
_TRANSIENT = (
    stripe.APIConnectionError,
    stripe.APIError,
    stripe.RateLimitError,
    stripe.AuthenticationError,
    stripe.PermissionError,
)


class StripeGateway(PaymentGateway):
    name = "stripe"
    supports_partial_capture = True
    supports_multiple_captures = False

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str | None = None,
        timeout: float = 30,
        max_network_retries: int = 2,
    ) -> None:
        self.webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            api_key,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    # --- operations -----------------------------------------------------------------

    def authorize(
        self, *, amount: Decimal, currency: str, token: str, idempotency_key: str, metadata: dict
    ) -> GatewayResult:
        params = {
            "amount": to_minor_units(amount, currency),
            "currency": currency.lower(),
            "payment_method": token,
            "payment_method_types": ["card"],
            "capture_method": "manual",
            # So that an order edit can raise the hold later, where the card allows it.
            "payment_method_options": {
                "card": {"request_incremental_authorization": "if_available"}
            },
            "confirm": True,
            "metadata": {str(k): str(v) for k, v in metadata.items()},
            "expand": ["latest_charge"],
        }
        intent = self._call(
            lambda: self._client.v1.payment_intents.create(params, _options(idempotency_key))
        )
        if isinstance(intent, GatewayResult):
            return intent
        status = intent["status"]
        if status == "requires_capture":
            return GatewayResult(
                ok=True,
                status="authorized",
                reference=intent["id"],
                amount=from_minor_units(intent["amount_capturable"], intent["currency"]),
                risk_score=_risk_score(intent),
                raw=intent,
            )
        if status == "requires_action":
            # 3-D Secure or similar: this server-side flow cannot complete it.
            return _declined(intent, "authentication_required", "The card needs authentication.")
        error = intent.get("last_payment_error") or {}
        return _declined(
            intent,
            error.get("decline_code") or error.get("code") or "card_declined",
            error.get("message") or f"Payment intent is {status}.",
        )

    def capture(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        final: bool = True,
    ) -> GatewayResult:
        params: dict[str, Any] = {"amount_to_capture": to_minor_units(amount, currency)}
        if not final:
            params["final_capture"] = False  # only honoured on multicapture accounts
        intent = self._call(
            lambda: self._client.v1.payment_intents.capture(
                reference, params, _options(idempotency_key)
            )
        )
        if isinstance(intent, GatewayResult):
            return intent
        if intent["status"] in ("succeeded", "requires_capture"):
            return GatewayResult(
                ok=True, status="captured", reference=intent["id"], amount=amount, raw=intent
            )
        return _failed(intent, f"Payment intent is {intent['status']} after capture.")

    supports_incremental_authorization = True

    def increment_authorization(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        params = {"amount": to_minor_units(amount, currency)}
        intent = self._call(
            lambda: self._client.v1.payment_intents.increment_authorization(
                reference, params, _options(idempotency_key)
            )
        )
        if isinstance(intent, GatewayResult):
            return intent  # e.g. the card does not allow it: the old hold stays
        if intent["status"] == "requires_capture":
            return GatewayResult(
                ok=True,
                status="authorized",
                reference=intent["id"],
                amount=from_minor_units(intent["amount_capturable"], intent["currency"]),
                raw=intent,
            )
        return _failed(intent, f"Payment intent is {intent['status']} after the increment.")

    def void(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        intent = self._call(
            lambda: self._client.v1.payment_intents.cancel(reference, {}, _options(idempotency_key))
        )
        if isinstance(intent, GatewayResult):
            return intent
        if intent["status"] == "canceled":
            return GatewayResult(ok=True, status="voided", reference=intent["id"], raw=intent)
        return _failed(intent, f"Payment intent is {intent['status']} after cancel.")

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        params = {"payment_intent": reference, "amount": to_minor_units(amount, currency)}
        refund = self._call(
            lambda: self._client.v1.refunds.create(params, _options(idempotency_key))
        )
        if isinstance(refund, GatewayResult):
            return refund
        # "pending" refunds (some payment methods) are accepted and settle later;
        # a later failure arrives as a webhook.
        if refund["status"] in ("succeeded", "pending", "requires_action"):
            return GatewayResult(
                ok=True,
                status="refunded",
                reference=refund["id"],
                amount=from_minor_units(refund["amount"], refund["currency"]),
                raw=refund,
            )
        return _failed(refund, refund.get("failure_reason") or f"Refund {refund['status']}.")

    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        if not self.webhook_secret:
            raise WebhookSignatureError("no webhook secret configured for stripe")
        try:
            event = self._client.construct_event(
                payload, get_header(headers, SIGNATURE_HEADER), self.webhook_secret
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureError(str(exc)) from exc
        except (ValueError, RecursionError) as exc:
            raise WebhookPayloadError(f"unreadable webhook body: {exc}") from exc
        data = event.to_dict()
        if not json_depth_ok(data):
            raise WebhookPayloadError("unreadable webhook body: nested too deeply")
        obj = data.get("data", {}).get("object", {}) or {}
        kind = _EVENT_TYPES.get(data["type"], data["type"])
        if obj.get("object") == "charge":
            reference = obj.get("payment_intent") or ""
            minor = {
                EventType.REFUNDED: obj.get("amount_refunded"),
                EventType.CAPTURED: obj.get("amount_captured"),
            }.get(kind)
        else:
            reference = obj.get("id") or ""
            minor = {
                EventType.AUTHORIZED: obj.get("amount_capturable"),
                EventType.CAPTURED: obj.get("amount_received"),
            }.get(kind)
        amount = None if minor is None else from_minor_units(minor, obj.get("currency", "usd"))
        return WebhookEvent(id=data["id"], type=kind, reference=reference, amount=amount, data=data)

    # --- helpers --------------------------------------------------------------------

    @staticmethod
    def _call(request: Callable[[], Any]) -> dict | GatewayResult:
        """Run a request; return the object as a plain dict, or the decline/failure."""
        try:
            return request().to_dict()
        except stripe.CardError as exc:
            error = exc.json_body.get("error", {}) if isinstance(exc.json_body, dict) else {}
            intent = error.get("payment_intent") or {}
            return GatewayResult(
                ok=False,
                status="declined",
                reference=intent.get("id", ""),
                decline_code=error.get("decline_code") or error.get("code") or "card_declined",
                message=error.get("message") or str(exc),
                raw=exc.json_body if isinstance(exc.json_body, dict) else {},
            )
        except _TRANSIENT as exc:
            raise GatewayError(f"stripe: {type(exc).__name__}: {exc}") from exc
        except stripe.StripeError as exc:
            # Invalid request, idempotency conflict...: retrying will not help.
            raw = exc.json_body if isinstance(exc.json_body, dict) else {}
            error = raw.get("error", {})
            code = error.get("code") or ""
            if code == "resource_missing" and error.get("param") == "payment_method":
                return GatewayResult(
                    ok=False,
                    status="declined",
                    decline_code="invalid_token",
                    message=error.get("message", ""),
                    raw=raw,
                )
            return GatewayResult(
                ok=False,
                status="failed",
                decline_code=code,
                message=error.get("message") or str(exc),
                raw=raw,
            )


def _options(idempotency_key: str) -> stripe.RequestOptions:
    return {"idempotency_key": idempotency_key}


def _declined(intent: dict, code: str, message: str) -> GatewayResult:
    return GatewayResult(
        ok=False,
        status="declined",
        reference=intent.get("id", ""),
        decline_code=code,
        message=message,
        raw=intent,
    )


def _failed(obj: dict, message: str) -> GatewayResult:
    return GatewayResult(
        ok=False, status="failed", reference=obj.get("id", ""), message=message, raw=obj
    )


def _risk_score(intent: dict) -> int | None:
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict):  # not expanded: just an id
        charges = (intent.get("charges") or {}).get("data") or []  # pre-2022 API versions
        charge = charges[0] if charges else {}
    outcome = charge.get("outcome") or {}
    if outcome.get("risk_score") is not None:
        return int(outcome["risk_score"])
    return _RISK_LEVEL_SCORES.get(outcome.get("risk_level", ""))
