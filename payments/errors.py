"""Payment domain errors with stable codes (mapped to the API error body by
`core.exceptions`), plus the retryable "busy" signal for workers."""

from __future__ import annotations

from core.errors import (
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    TransitionNotAllowed,
    ValidationFailed,
    detail,
)

from .gateways.base import GatewayError

__all__ = [
    "CaptureExceedsAuthorized",
    "GatewayRefused",
    "IdempotencyKeyReused",
    "InvalidAmount",
    "InvalidIdempotencyKey",
    "OperationInProgress",
    "PartialCaptureNotSupported",
    "PaymentNotFound",
    "RefundExceedsCaptured",
    "TransitionNotAllowed",
]


class PaymentNotFound(NotFound):
    default_message = "No such payment."


class InvalidAmount(ValidationFailed):
    default_message = "The amount was rejected."

    def __init__(self, message: str):
        super().__init__(message, details=[detail("amount", "INVALID_AMOUNT", message)])


class InvalidIdempotencyKey(ValidationFailed):
    default_message = "Bad idempotency key."

    def __init__(self, message: str):
        super().__init__(
            self.default_message,
            details=[detail("idempotency_key", "INVALID_IDEMPOTENCY_KEY", message)],
        )


class RefundExceedsCaptured(DomainError):
    code = "REFUND_EXCEEDS_CAPTURED"
    http_status = 400
    default_message = "The refund is more than what was captured and not yet refunded."


class CaptureExceedsAuthorized(DomainError):
    code = "CAPTURE_EXCEEDS_AUTHORIZED"
    http_status = 400
    default_message = "The capture is more than what was authorized and not yet captured."


class PartialCaptureNotSupported(DomainError):
    code = "PARTIAL_CAPTURE_NOT_SUPPORTED"
    http_status = 409
    default_message = "This payment's gateway only captures the full remaining amount, once."


class GatewayRefused(DomainError):
    """The gateway gave a definitive no to a capture or void (expired authorization...)."""

    code = "PAYMENT_GATEWAY_REFUSED"
    http_status = 409
    default_message = "The payment gateway refused the operation."


class OperationInProgress(GatewayError):
    """Another worker is making this very gateway call right now. A GatewayError, so
    tasks retry it later like any transient failure; never shown as a domain error."""
