"""Domain errors with stable codes. Services raise these; the API exception
handler turns them into the API.md error body, the admin into messages."""

from __future__ import annotations


class DomainError(Exception):
    code = "DOMAIN_ERROR"
    http_status = 400
    default_message = "The request could not be completed."

    def __init__(
        self, message: str = "", *, code: str | None = None, details: list[dict] | None = None
    ):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details = details or []
        super().__init__(self.message)


def detail(field: str | None, code: str, message: str) -> dict:
    """One entry of an error's `details` list."""
    return {"field": field, "code": code, "message": message}


class ValidationFailed(DomainError):
    code = "VALIDATION_FAILED"
    http_status = 400
    default_message = "The request was rejected."


class NotFound(DomainError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "Not found."


class TransitionNotAllowed(DomainError):
    code = "TRANSITION_NOT_ALLOWED"
    http_status = 409
    default_message = "The object's current state does not allow this action."


class IdempotencyKeyReused(DomainError):
    code = "IDEMPOTENCY_KEY_REUSED"
    http_status = 409
    default_message = "This Idempotency-Key was used with a different request body."


class ServiceUnavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    default_message = "A dependency is unavailable; nothing was changed. Try again shortly."
