"""Inbound carrier webhooks: `POST /api/v1/webhooks/carriers/{carrier}/`.

No user authentication: the HMAC-SHA256 signature of the raw body
(`X-Orderly-Signature: sha256=<hex>`, secret `WEBHOOK_SECRETS["carrier"][name]`)
is the credential. A bad or missing signature is a 401 and changes nothing; a
repeated event id is a 200 that changes nothing."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core.errors import ValidationFailed, detail
from core.webhooks import SignedWebhookView, WebhookUnauthorized

from ..carriers import CarrierPayloadError, CarrierSignatureError, UnknownCarrier, get_carrier
from ..serializers import CarrierWebhookResultSerializer
from ..services import tracking_event_apply
from ..services.tracking import DUPLICATE


@extend_schema(
    tags=["webhooks"],
    auth=[],
    request={"application/json": OpenApiTypes.OBJECT},
    responses={200: CarrierWebhookResultSerializer},
    description='A signed carrier event `{"event_id", "tracking_number", "status": '
    '"in_transit"|"delivered"|"exception", "location", "description", "occurred_at"}`. '
    "Idempotent on the event id; an unknown tracking number is a 404.",
)
class CarrierWebhookView(SignedWebhookView):
    def post(self, request, carrier: str):
        try:
            adapter = get_carrier(carrier)
        except UnknownCarrier as exc:
            # Refused like a bad signature, so the endpoint does not reveal carrier names.
            raise WebhookUnauthorized() from exc
        try:
            # The raw body, as signed: read before (and instead of) DRF's parsing.
            event = adapter.parse_webhook(request.body, request.headers)
        except CarrierPayloadError as exc:
            raise ValidationFailed(
                "The carrier event could not be read.",
                details=[detail(None, "INVALID_EVENT", str(exc))],
            ) from exc
        except CarrierSignatureError as exc:
            raise WebhookUnauthorized() from exc
        outcome = tracking_event_apply(carrier=carrier, event=event)
        if outcome.status == DUPLICATE:
            return Response({"status": DUPLICATE})
        return Response(
            {
                "status": outcome.status,
                "shipment": outcome.shipment.number,
                "shipment_status": outcome.shipment.status,
            }
        )
