"""Inbound marketplace orders: `POST /api/v1/webhooks/channels/{channel}/orders/`.

No user authentication: the HMAC-SHA256 signature of the raw body
(`X-Orderly-Signature: sha256=<hex>`, secret `WEBHOOK_SECRETS["channel"][name]`)
is the credential. A bad or missing signature, or a channel without a secret,
is a 401 and writes nothing.

Answers: 201 `{"number", "status"}` (the order's number, and its status as
imported: `pending`) when this delivery placed the order; 200 with the same body when the external id was
imported before (the delivery changes nothing); 202 `{"status": "held", "reason": <detail code>}`
when it cannot be placed now (kept; every redelivery and the admin's "Replay"
try again); 400 VALIDATION_FAILED when the body cannot be read (kept as a
`failed` row for ops to see)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from core.exceptions import error_body
from core.webhooks import SignedWebhookView

from ..models import ChannelOrderStatus, OrderStatus
from .serializers import (
    ChannelOrderHeldSerializer,
    ChannelOrderImportedSerializer,
    ChannelOrderPayloadSerializer,
)
from .services import READ_FAILED, channel_order_import, parse_body


@extend_schema(
    tags=["webhooks"],
    auth=[],
    request=ChannelOrderPayloadSerializer,
    responses={
        201: ChannelOrderImportedSerializer,
        200: OpenApiResponse(
            ChannelOrderImportedSerializer,
            description="This external id was imported before; nothing changed.",
        ),
        202: ChannelOrderHeldSerializer,
        400: OpenApiResponse(description="VALIDATION_FAILED: the body could not be read."),
        401: OpenApiResponse(description="AUTHENTICATION_REQUIRED: bad or missing signature."),
    },
    description="A marketplace order, signed with `X-Orderly-Signature: sha256=<hex HMAC-SHA256 "
    "of the raw body>`. Imported once per (channel, external_id), priced as the channel says "
    "(differences from our prices are flagged, not refused), stock reserved like any order. "
    "`paid: true` records the payment as captured by the channel; `paid: false` is cash on "
    "delivery. An order that cannot be placed now (unknown market or SKU, no stock) is held "
    "(202) and retried on every redelivery and from the admin.",
)
class ChannelOrderWebhookView(SignedWebhookView):
    def post(self, request, channel: str):
        body = self.verify_signature(request, kind="channel", name=channel)
        raw_body = body.decode("utf-8", errors="replace")
        row = channel_order_import(channel=channel, payload=parse_body(raw_body), raw_body=raw_body)
        if row.status == ChannelOrderStatus.IMPORTED:
            return Response(
                # The order as imported: placed `pending`, its confirmation queued as
                # for any order. A redelivery replays this same body (as an
                # Idempotency-Key replay does), so it is the status at import,
                # not today's; GET /orders/{number}/ has that.
                {"number": row.order.number, "status": OrderStatus.PENDING},
                status=201 if row.imported_now else 200,
            )
        if row.status == ChannelOrderStatus.HELD:
            return Response({"status": "held", "reason": row.reason}, status=202)
        return Response(error_body("VALIDATION_FAILED", READ_FAILED, row.errors), status=400)
