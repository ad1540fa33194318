"""Razorpay (India: cards and UPI), through the official `razorpay` SDK.

The customer pays in Razorpay Checkout, which leaves the payment `authorized` and
hands the client a payment id (`pay_...`); that id is our token. "Authorize" checks
that payment on Razorpay; capture must be for the full authorized amount. Razorpay
has no void: an uncaptured payment is refunded automatically when the authorization
expires, so void calls nothing for it (and refunds in full if it was captured).

Razorpay has no idempotency header for captures or refunds, so retries are made safe
here: a capture that Razorpay says is already done is checked and reported as done,
and a refund carries its key in `notes`, looked up before a new one is created.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import razorpay
import razorpay.errors
import requests

from core.parsers import loads_bounded

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

SIGNATURE_HEADER = "X-Razorpay-Signature"
EVENT_ID_HEADER = "X-Razorpay-Event-Id"

_EVENT_TYPES = {
    "payment.authorized": EventType.AUTHORIZED,
    "payment.captured": EventType.CAPTURED,
    "payment.failed": EventType.FAILED,
    "refund.processed": EventType.REFUNDED,
}


class _Declined(Exception):
    """A definitive "no" from Razorpay (HTTP 4xx BAD_REQUEST_ERROR)."""


class RazorpayGateway(PaymentGateway):
    name = "razorpay"
    supports_partial_capture = False  # the capture amount must equal the authorized amount
    supports_multiple_captures = False

    def __init__(
        self,
        *,
        key_id: str,
        key_secret: str,
        webhook_secret: str | None = None,
        timeout: float = 30,
    ) -> None:
        self.webhook_secret = webhook_secret
        self.timeout = timeout
        self._client = razorpay.Client(auth=(key_id, key_secret))

    # --- operations -----------------------------------------------------------------

    def authorize(
        self, *, amount: Decimal, currency: str, token: str, idempotency_key: str, metadata: dict
    ) -> GatewayResult:
        if not token.startswith("pay_"):
            return _declined("invalid_token", "Expected a Razorpay payment id (pay_...).")
        try:
            payment = self._fetch(token)
        except _Declined as exc:
            return _declined("invalid_token", str(exc))
        expected = to_minor_units(amount, currency)
        if payment["amount"] != expected or payment["currency"].upper() != currency.upper():
            return _declined(
                "amount_mismatch",
                f"Payment is for {payment['amount']} {payment['currency']}, "
                f"expected {expected} {currency.upper()}.",
                payment,
            )
        if payment["status"] in ("authorized", "captured"):
            # "captured": the account auto-captures; the money is already taken.
            return GatewayResult(
                ok=True,
                status=payment["status"],
                reference=payment["id"],
                amount=from_minor_units(payment["amount"], payment["currency"]),
                raw=payment,
            )
        return _declined(
            payment.get("error_reason") or payment.get("error_code") or payment["status"],
            payment.get("error_description") or f"Payment is {payment['status']}.",
            payment,
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
        minor = to_minor_units(amount, currency)
        try:
            payment = self._call(
                lambda: self._client.payment.capture(
                    reference, minor, {"currency": currency.upper()}, timeout=self.timeout
                )
            )
        except _Declined as exc:
            # A retry after a timeout finds it captured already: that is success.
            try:
                payment = self._fetch(reference)
            except _Declined:
                payment = {}
            if payment.get("status") != "captured" or payment.get("amount") != minor:
                return _failed(str(exc), payment)
        return GatewayResult(
            ok=True, status="captured", reference=payment["id"], amount=amount, raw=payment
        )

    def void(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        try:
            payment = self._fetch(reference)
        except _Declined as exc:
            return _failed(str(exc))
        if payment["status"] != "captured":
            return GatewayResult(
                ok=True,
                status="voided",
                reference=reference,
                message="Razorpay has no void; the authorization expires and is auto-refunded.",
                raw=payment,
            )
        remaining = payment["amount"] - payment.get("amount_refunded", 0)
        result = self.refund(
            reference=reference,
            amount=from_minor_units(remaining, payment["currency"]),
            currency=payment["currency"],
            idempotency_key=idempotency_key,
        )
        if not result.ok:
            return result
        return GatewayResult(
            ok=True,
            status="voided",
            reference=reference,
            message="Captured on Razorpay: refunded in full.",
            raw=result.raw,
        )

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        try:
            refund = self._find_refund(reference, idempotency_key) or self._call(
                lambda: self._client.payment.refund(
                    reference,
                    {
                        "amount": to_minor_units(amount, currency),
                        "receipt": _receipt(idempotency_key),
                        "notes": {"idempotency_key": idempotency_key},
                    },
                    timeout=self.timeout,
                )
            )
        except _Declined as exc:
            return _failed(str(exc))
        if refund.get("status") == "failed":
            return _failed("Refund failed at Razorpay.", refund)
        return GatewayResult(
            ok=True,
            status="refunded",
            reference=refund["id"],
            amount=from_minor_units(refund["amount"], refund["currency"]),
            raw=refund,
        )

    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        if not self.webhook_secret:
            raise WebhookSignatureError("no webhook secret configured for razorpay")
        try:
            body_text = payload.decode("utf-8")
            self._client.utility.verify_webhook_signature(
                body_text, get_header(headers, SIGNATURE_HEADER), self.webhook_secret
            )
        except (UnicodeDecodeError, razorpay.errors.SignatureVerificationError) as exc:
            raise WebhookSignatureError("bad signature") from exc
        try:
            body = loads_bounded(body_text)
            entities = body.get("payload", {})
            payment = entities.get("payment", {}).get("entity", {})
            refund = entities.get("refund", {}).get("entity", {})
            kind = _EVENT_TYPES.get(body["event"], body["event"])
            amount_minor = None
            if kind in (EventType.AUTHORIZED, EventType.CAPTURED):
                amount_minor = payment.get("amount")
            elif kind == EventType.REFUNDED:
                if payment and payment.get("captured") is False:
                    # Razorpay's automatic refund of an uncaptured authorization.
                    kind = EventType.VOIDED
                else:
                    amount_minor = payment.get("amount_refunded")  # cumulative
            currency = payment.get("currency") or refund.get("currency") or "INR"
            return WebhookEvent(
                # Razorpay sends the event id in a header only; fall back to the body hash.
                id=get_header(headers, EVENT_ID_HEADER) or hashlib.sha256(payload).hexdigest(),
                type=kind,
                reference=payment.get("id") or refund.get("payment_id") or "",
                amount=None if amount_minor is None else from_minor_units(amount_minor, currency),
                data=body,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookPayloadError(f"unreadable webhook body: {exc}") from exc

    # --- helpers --------------------------------------------------------------------

    def _fetch(self, payment_id: str) -> dict:
        return self._call(lambda: self._client.payment.fetch(payment_id, {}, timeout=self.timeout))

    def _find_refund(self, payment_id: str, idempotency_key: str) -> dict | None:
        listing = self._call(
            lambda: self._client.payment.fetch_multiple_refund(
                payment_id, {"count": 100}, timeout=self.timeout
            )
        )
        for refund in listing.get("items", []):
            if (refund.get("notes") or {}).get("idempotency_key") == idempotency_key:
                return refund
        return None

    @staticmethod
    def _call(request: Callable[[], Any]) -> dict:
        try:
            return request()
        except razorpay.errors.BadRequestError as exc:
            # Razorpay reports bad API keys as BAD_REQUEST_ERROR too; our configuration is
            # not the customer's fault, so that must not decline anything.
            if "authentication failed" in str(exc).lower():
                raise GatewayError(f"razorpay: {exc}") from exc
            raise _Declined(str(exc) or "Bad request.") from exc
        except (
            requests.RequestException,
            razorpay.errors.ServerError,
            razorpay.errors.GatewayError,
            ValueError,  # a non-JSON body, e.g. an HTML 502 page from a proxy
        ) as exc:
            raise GatewayError(f"razorpay: {type(exc).__name__}: {exc}") from exc


def _receipt(idempotency_key: str) -> str:
    # Razorpay limits `receipt` to 40 characters.
    return "rf_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def _declined(code: str, message: str, raw: dict | None = None) -> GatewayResult:
    return GatewayResult(
        ok=False,
        status="declined",
        reference=(raw or {}).get("id", ""),
        decline_code=code,
        message=message,
        raw=raw or {},
    )


def _failed(message: str, raw: dict | None = None) -> GatewayResult:
    return GatewayResult(
        ok=False,
        status="failed",
        reference=(raw or {}).get("id", ""),
        message=message,
        raw=raw or {},
    )
