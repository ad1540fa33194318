"""POST /api/v1/webhooks/payments/{gateway}/ with the event shapes real senders
use, end to end: the built-in test gateway's capture event and Stripe-shaped
events signed with Stripe's own scheme (`Stripe-Signature: t=...,v1=...`) move
the payment, and the order mirrors it. tests/payments/test_webhooks.py already
covers a test-gateway refund through the endpoint and unsigned/unknown senders;
these add what it does not: captures, Stripe's shapes and signature scheme, and
a Stripe signature made with the wrong secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest
import responses

import orders.tasks  # noqa: F401  registers orders.tasks.order_sync_payment, as a worker has it
from core.signatures import sign as orderly_sign
from orders.models import Order
from payments.gateways.test_gateway import TestGateway
from payments.models import PaymentWebhookEvent
from payments.services import payment_authorize
from tests.payments.conftest import load_recording
from tests.payments.factories import authorized_payment, card_payment

pytestmark = pytest.mark.django_db

D = Decimal
URL = "/api/v1/webhooks/payments/{gateway}/"
WHSEC = "whsec_test_0123456789abcdef"  # as conftest's WEBHOOK_SECRETS["gateway"]["stripe"]
PI = "pi_3QxAbC2eZvKYlo2C1n8fR0aB"


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()


def stripe_signature(payload: bytes, secret: str = WHSEC, timestamp: int | None = None) -> str:
    """Stripe's scheme: v1 = HMAC-SHA256(secret, "<t>.<raw body>")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@pytest.fixture
def send(api, django_capture_on_commit_callbacks):
    def _send(gateway: str, body: bytes, **headers):
        with django_capture_on_commit_callbacks(execute=True):  # the order sync task
            return api.post(
                URL.format(gateway=gateway), data=body, content_type="application/json", **headers
            )

    return _send


def test_test_gateway_capture_event_moves_the_payment_and_the_order(send):
    payment = authorized_payment(amount="100.00")
    body = json.dumps(
        {
            "id": "evt_cap_1",
            "type": "payment.captured",
            "reference": payment.reference,
            "amount": "100.00",
        }
    ).encode()

    for _ in range(2):  # the repeat changes nothing
        response = send("test", body, HTTP_X_ORDERLY_SIGNATURE=orderly_sign(body, "s3"))
        assert response.status_code == 200, response.content
        assert response.json() == {"status": "received", "id": "evt_cap_1"}

    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == ("captured", D("100.00"))
    assert Order.objects.get(pk=payment.order_id).payment_status == "captured"
    assert PaymentWebhookEvent.objects.get().outcome == "applied"


@pytest.fixture
def stripe_payment(settings):
    """A 53.99 card payment authorized at Stripe (recorded API response)."""
    settings.STRIPE_API_KEY = "sk_test_123"
    payment = card_payment(amount="53.99", token="pm_card_visa", gateway="stripe")
    with responses.RequestsMock() as api:
        api.post(
            "https://api.stripe.com/v1/payment_intents",
            json=load_recording("stripe_payment_intent_requires_capture"),
        )
        payment = payment_authorize(payment_id=payment.pk)
    assert (payment.status, payment.reference) == ("authorized", PI)
    return payment


def stripe_event(event_id: str, kind: str, obj: dict) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-09-30.clover",
            "created": int(time.time()),
            "livemode": False,
            "type": kind,
            "data": {"object": obj},
        }
    ).encode()


def test_stripe_events_move_the_payment(send, stripe_payment):
    captured = stripe_event(
        "evt_pi_succeeded",
        "payment_intent.succeeded",
        {
            "id": PI,
            "object": "payment_intent",
            "amount": 5399,
            "amount_received": 3000,
            "currency": "usd",
            "status": "succeeded",
        },
    )
    response = send("stripe", captured, HTTP_STRIPE_SIGNATURE=stripe_signature(captured))
    assert response.status_code == 200, response.content
    stripe_payment.refresh_from_db()
    assert (stripe_payment.status, stripe_payment.amount_captured) == ("captured", D("30.00"))
    assert Order.objects.get(pk=stripe_payment.order_id).payment_status == "captured"

    refunded = stripe_event(
        "evt_ch_refunded",
        "charge.refunded",
        {
            "id": "ch_3QxAbC2eZvKYlo2C1QvZb7Xk",
            "object": "charge",
            "amount_captured": 3000,
            "amount_refunded": 1500,
            "currency": "usd",
            "payment_intent": PI,
        },
    )
    for _ in range(2):  # Stripe redelivers; counted once
        response = send("stripe", refunded, HTTP_STRIPE_SIGNATURE=stripe_signature(refunded))
        assert response.status_code == 200, response.content
    stripe_payment.refresh_from_db()
    assert (stripe_payment.status, stripe_payment.amount_refunded) == (
        "partially_refunded",
        D("15.00"),
    )
    assert stripe_payment.refunds.get().source == "gateway:stripe"
    assert Order.objects.get(pk=stripe_payment.order_id).payment_status == "partially_refunded"


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda body: stripe_signature(body, secret="whsec_wrong"), id="wrong-secret"),
        pytest.param(lambda body: stripe_signature(b"{}"), id="another-body"),
        pytest.param(
            lambda body: stripe_signature(body, timestamp=int(time.time()) - 3600), id="stale"
        ),
        pytest.param(lambda body: orderly_sign(body, WHSEC), id="orderly-scheme"),
    ],
)
def test_bad_stripe_signature_is_a_401_and_changes_nothing(send, stripe_payment, make_header):
    body = stripe_event(
        "evt_forged",
        "payment_intent.succeeded",
        {"id": PI, "object": "payment_intent", "amount_received": 5399, "currency": "usd"},
    )
    response = send("stripe", body, HTTP_STRIPE_SIGNATURE=make_header(body))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    stripe_payment.refresh_from_db()
    assert (stripe_payment.status, stripe_payment.amount_captured) == ("authorized", D("0.00"))
    assert not PaymentWebhookEvent.objects.exists()
