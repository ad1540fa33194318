"""Notification domain errors with stable codes (see core.errors)."""

from __future__ import annotations

from core.errors import NotFound, TransitionNotAllowed, ValidationFailed, detail

__all__ = [
    "InvalidNotification",
    "InvalidWebhookEvent",
    "NotificationNotFound",
    "TransitionNotAllowed",
    "WebhookDeliveryNotFound",
]


class NotificationNotFound(NotFound):
    default_message = "No such notification."


class WebhookDeliveryNotFound(NotFound):
    default_message = "No such webhook delivery."


class InvalidNotification(ValidationFailed):
    """A caller's mistake (unknown channel or template): raised, never stored."""

    default_message = "The notification was rejected."

    def __init__(self, field: str, code: str, message: str):
        super().__init__(message, details=[detail(field, code, message)])


class InvalidWebhookEvent(ValidationFailed):
    default_message = "The webhook event was rejected."

    def __init__(self, field: str, code: str, message: str):
        super().__init__(message, details=[detail(field, code, message)])
