"""The ground floor of every inbound webhook (payment gateways, carriers,
marketplace channels): no user authentication and no per-IP throttle, since
the signature of the raw body with the sender's secret is the credential; a bad
or missing signature is a 401 in API.md's error shape and changes nothing.

Secrets come from `settings.WEBHOOK_SECRETS` (`kind:name=secret`, parsed into
{kind: {name: secret}}); a sender without one refuses every request."""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from .errors import DomainError
from .signatures import signature_valid

SIGNATURE_HEADER = "X-Orderly-Signature"
MAX_SENDER_NAME = 32


class WebhookUnauthorized(DomainError):
    code = "AUTHENTICATION_REQUIRED"
    http_status = 401
    default_message = "Missing or invalid webhook signature."


def webhook_secret(kind: str, name: str) -> str:
    """The sender's secret, "" when it has none (every request is refused)."""
    if len(name) > MAX_SENDER_NAME:
        return ""
    secrets = getattr(settings, "WEBHOOK_SECRETS", None) or {}
    return (secrets.get(kind) or {}).get(name) or ""


class SignedWebhookView(APIView):
    """Base view of an inbound webhook. Read `request.body` (the raw bytes, as
    signed) instead of `request.data`; `verify_signature` checks the
    X-Orderly-Signature scheme, senders with a scheme of their own (Stripe's,
    Razorpay's) check it in their adapter and raise WebhookUnauthorized."""

    # Signed senders burst legitimately; the signature, not a per-IP rate,
    # is what keeps strangers out.
    throttle_classes: list = []
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def verify_signature(self, request, *, kind: str, name: str) -> bytes:
        body = request.body
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not signature_valid(body, webhook_secret(kind, name), given):
            raise WebhookUnauthorized()
        return body
