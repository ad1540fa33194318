"""Payment gateway adapters: one interface (`base.PaymentGateway`), no database access."""

from .base import (
    EventType,
    GatewayError,
    GatewayResult,
    PaymentGateway,
    WebhookEvent,
    WebhookPayloadError,
    WebhookSignatureError,
)
from .registry import gateway_for, get_gateway

__all__ = [
    "EventType",
    "GatewayError",
    "GatewayResult",
    "PaymentGateway",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "gateway_for",
    "get_gateway",
]
