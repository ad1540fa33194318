"""Cash on delivery: nothing is authorized up front; staff record cash collected and
cash or bank refunds they made. Every call succeeds and talks to no one."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from .base import GatewayResult, PaymentGateway, WebhookEvent, WebhookSignatureError


class ManualGateway(PaymentGateway):
    name = "manual"
    supports_partial_capture = True
    supports_multiple_captures = True  # e.g. cash collected per delivered shipment

    def authorize(
        self, *, amount: Decimal, currency: str, token: str, idempotency_key: str, metadata: dict
    ) -> GatewayResult:
        # "pending", not "authorized": no money is held for a COD order.
        return GatewayResult(ok=True, status="pending", reference=f"cod-{idempotency_key}")

    def capture(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        final: bool = True,
    ) -> GatewayResult:
        return GatewayResult(
            ok=True,
            status="captured",
            reference=reference,
            amount=amount,
            message="Cash collected on delivery.",
        )

    def void(self, *, reference: str, idempotency_key: str) -> GatewayResult:
        return GatewayResult(ok=True, status="voided", reference=reference)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> GatewayResult:
        return GatewayResult(
            ok=True,
            status="refunded",
            reference=f"cod-refund-{idempotency_key}",
            amount=amount,
            message="Refunded by staff (cash or bank transfer).",
        )

    def parse_webhook(self, *, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        raise WebhookSignatureError("the manual gateway sends no webhooks")
