"""Inbound payment gateway webhooks: `POST /api/v1/webhooks/payments/{gateway}/`.

No user authentication: the gateway's signature over the raw body is the credential
(X-Orderly-Signature for the test gateway, Stripe-Signature, X-Razorpay-Signature).
A bad or missing signature is a 401 and changes nothing; a repeated event is a 200
that changes nothing."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from core.errors import ValidationFailed
from core.webhooks import SignedWebhookView, WebhookUnauthorized

from .gateways import WebhookPayloadError, WebhookSignatureError, get_gateway
from .gateways.base import check_event
from .services import payment_apply_webhook

# Gateways that send webhooks; any other name is refused like a bad signature,
# so the endpoint does not reveal which gateways exist.
WEBHOOK_GATEWAYS = ("test", "stripe", "razorpay")


@extend_schema(
    tags=["webhooks"],
    auth=[],
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        200: inline_serializer(
            "PaymentWebhookAccepted",
            {"status": serializers.CharField(), "id": serializers.CharField()},
        )
    },
    description="A signed gateway event (HMAC-SHA256 of the raw body). Idempotent on the event id.",
)
class PaymentWebhookView(SignedWebhookView):
    def post(self, request, gateway: str):
        if gateway not in WEBHOOK_GATEWAYS:
            raise WebhookUnauthorized()
        try:
            event = check_event(
                get_gateway(gateway).parse_webhook(payload=request.body, headers=request.headers)
            )
        except WebhookPayloadError as exc:
            raise ValidationFailed("The webhook body could not be read.") from exc
        except WebhookSignatureError as exc:
            raise WebhookUnauthorized() from exc
        payment_apply_webhook(gateway=gateway, event=event)
        return Response({"status": "received", "id": event.id})
