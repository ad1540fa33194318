"""Outbound webhook wire format: the body, its HMAC-SHA256 signature, one POST.

Integrators verify `X-Orderly-Signature: sha256=<hex>` by computing
HMAC-SHA256(secret, raw request body) and comparing in constant time
(`verify_signature` below is the reference implementation).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.core.serializers.json import DjangoJSONEncoder

from core.signatures import sign, signature_valid

from .conf import setting
from .models import WebhookDelivery

USER_AGENT = "Orderly-Webhooks/1.0"
EXCERPT_BYTES = 1000


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def body_for(delivery: WebhookDelivery) -> bytes:
    """The same bytes on every attempt (built from stored fields only), so a receiver
    deduplicating by body or by X-Orderly-Delivery sees one event."""
    document = {
        "event": delivery.event,
        "id": delivery.pk,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    return signature_valid(body, secret, header)


def headers_for(delivery: WebhookDelivery, secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Orderly-Event": delivery.event,
        "X-Orderly-Delivery": str(delivery.pk),
        "X-Orderly-Signature": sign(body, secret),
    }


def is_http_url(url: str) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def post(url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    """One POST; never raises. Redirects are not followed: a 3xx is not a delivery,
    and following one could send the signed event somewhere it was not meant to go."""
    started = time.monotonic()
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=float(setting("WEBHOOK_TIMEOUT_SECONDS")),
            allow_redirects=False,
            stream=True,  # read only an excerpt of whatever the receiver sends back
        )
        with response:
            excerpt = next(response.iter_content(EXCERPT_BYTES), b"")
        return PostResult(
            status_code=response.status_code,
            excerpt=excerpt.decode("utf-8", "replace"),
            error="" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}",
            duration_ms=_ms_since(started),
        )
    except requests.RequestException as exc:
        return PostResult(
            status_code=None,
            excerpt="",
            error=f"{type(exc).__name__}: {exc}",
            duration_ms=_ms_since(started),
        )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
