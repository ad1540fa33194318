"""Fixtures for the marketplace order import: the shop of tests/orders, the
channel secrets, a TikTok-Shop-like payload and a signed POST."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest

from tests.orders.support import US_ADDRESS, on_commit, shop  # noqa: F401

SECRET = "s1"
URL = "/api/v1/webhooks/channels/{channel}/orders/"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def channel_payload(external_id: str = "TT-5512", **overrides) -> dict:
    """The API.md example: one TSHIRT-RED-M at 19.99, free shipping, 8% tax."""
    body = {
        "external_id": external_id,
        "market": "US",
        "placed_at": "2026-11-21T10:00:00Z",
        "buyer": {"name": "Ana Cruz", "email": "ana@example.com", "phone": "+14155550100"},
        "shipping_address": copy.deepcopy(US_ADDRESS),
        "items": [{"sku": "TSHIRT-RED-M", "quantity": 1, "unit_price": "19.99"}],
        "shipping": "0.00",
        "total": "21.59",
        "paid": True,
    }
    body.update(overrides)
    return body


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.WEBHOOK_SECRETS = {
        "channel": {"tiktok": SECRET, "shopee": "s9", "silent": ""},
        "gateway": {"test": "s3", "stripe": "whsec_test_0123456789abcdef"},
    }


@pytest.fixture
def deliver(api, django_capture_on_commit_callbacks):
    """deliver(payload or raw bytes, channel="tiktok", signature=<good>) → response.
    What the request queued on commit (confirmation, the payment capture) runs,
    as it would once a real request's transaction commits."""

    def _deliver(
        payload, *, channel: str = "tiktok", signature: str | None = "good", secret=SECRET
    ):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {}
        if signature == "good":
            headers["HTTP_X_ORDERLY_SIGNATURE"] = sign(body, secret)
        elif signature is not None:
            headers["HTTP_X_ORDERLY_SIGNATURE"] = signature
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                URL.format(channel=channel), data=body, content_type="application/json", **headers
            )

    return _deliver
