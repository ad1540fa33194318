"""The Stripe adapter against recorded HTTP responses (the `responses` library)."""

import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests
import responses

from payments.gateways import EventType, GatewayError, WebhookSignatureError
from payments.gateways.stripe_gateway import StripeGateway

API = "https://api.stripe.com/v1"
PI = "pi_3QxAbC2eZvKYlo2C1n8fR0aB"
WHSEC = "whsec_test_0123456789abcdef"


@pytest.fixture
def gateway():
    # No SDK retries here: each test states exactly which responses the API gives.
    return StripeGateway(api_key="sk_test_123", webhook_secret=WHSEC, max_network_retries=0)


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:  # any unexpected request fails the test
        yield mock


def form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def authorize(gateway, token="pm_card_visa", amount="53.99", currency="USD"):
    return gateway.authorize(
        amount=Decimal(amount),
        currency=currency,
        token=token,
        idempotency_key="pay-1:authorize",
        metadata={"order": "US-000123"},
    )


class TestAuthorize:
    def test_success_is_a_manual_capture_intent(self, gateway, api, recording):
        api.post(f"{API}/payment_intents", json=recording("stripe_payment_intent_requires_capture"))
        result = authorize(gateway)
        assert result.ok
        assert result.status == "authorized"
        assert result.reference == PI
        assert result.amount == Decimal("53.99")
        assert result.risk_score == 32
        sent = form(api.calls[0])
        assert sent["amount"] == "5399"
        assert sent["currency"] == "usd"
        assert sent["capture_method"] == "manual"
        assert sent["confirm"] == "true"
        assert sent["payment_method"] == "pm_card_visa"
        assert sent["metadata[order]"] == "US-000123"
        assert api.calls[0].request.headers["Idempotency-Key"] == "pay-1:authorize"
        assert api.calls[0].request.headers["Authorization"] == "Bearer sk_test_123"

    def test_zero_decimal_currency_is_sent_in_whole_units(self, gateway, api, recording):
        body = recording("stripe_payment_intent_requires_capture") | {
            "amount": 1500,
            "amount_capturable": 1500,
            "currency": "jpy",
        }
        api.post(f"{API}/payment_intents", json=body)
        result = authorize(gateway, amount="1500.00", currency="JPY")
        assert form(api.calls[0])["amount"] == "1500"
        assert result.amount == Decimal("1500.00")

    def test_card_decline_is_a_declined_result(self, gateway, api, recording):
        api.post(f"{API}/payment_intents", status=402, json=recording("stripe_card_declined"))
        result = authorize(gateway)
        assert not result.ok
        assert result.status == "declined"
        assert result.decline_code == "insufficient_funds"
        assert result.reference == "pi_3QxAcD2eZvKYlo2C0wq4Hs2P"
        assert "insufficient funds" in result.message

    def test_unknown_payment_method_is_declined_as_invalid_token(self, gateway, api, recording):
        api.post(
            f"{API}/payment_intents",
            status=400,
            json=recording("stripe_error_no_such_payment_method"),
        )
        result = authorize(gateway, token="pm_bogus")
        assert (result.ok, result.status, result.decline_code) == (
            False,
            "declined",
            "invalid_token",
        )

    def test_timeout_is_a_gateway_error(self, gateway, api):
        api.post(f"{API}/payment_intents", body=requests.exceptions.ConnectTimeout("timed out"))
        with pytest.raises(GatewayError):
            authorize(gateway)

    def test_server_error_is_a_gateway_error(self, gateway, api, recording):
        api.post(f"{API}/payment_intents", status=500, json=recording("stripe_error_api_500"))
        with pytest.raises(GatewayError):
            authorize(gateway)

    def test_sdk_retries_reuse_the_idempotency_key(self, api, recording):
        gateway = StripeGateway(api_key="sk_test_123", max_network_retries=1)
        api.post(f"{API}/payment_intents", status=500, json=recording("stripe_error_api_500"))
        api.post(f"{API}/payment_intents", json=recording("stripe_payment_intent_requires_capture"))
        assert authorize(gateway).ok
        keys = {call.request.headers["Idempotency-Key"] for call in api.calls}
        assert keys == {"pay-1:authorize"}


def test_partial_capture_sends_amount_to_capture(gateway, api, recording):
    api.post(
        f"{API}/payment_intents/{PI}/capture",
        json=recording("stripe_payment_intent_captured_partial"),
    )
    result = gateway.capture(
        reference=PI, amount=Decimal("30.00"), currency="USD", idempotency_key="pay-1:capture:s1"
    )
    assert (result.ok, result.status, result.amount) == (True, "captured", Decimal("30.00"))
    assert form(api.calls[0]) == {"amount_to_capture": "3000"}
    assert api.calls[0].request.headers["Idempotency-Key"] == "pay-1:capture:s1"


def test_capture_of_an_expired_authorization_fails(gateway, api):
    api.post(
        f"{API}/payment_intents/{PI}/capture",
        status=400,
        json={
            "error": {
                "code": "payment_intent_unexpected_state",
                "message": "This PaymentIntent could not be captured because it has a status of "
                "canceled.",
                "type": "invalid_request_error",
            }
        },
    )
    result = gateway.capture(
        reference=PI, amount=Decimal("30.00"), currency="USD", idempotency_key="k"
    )
    assert (result.ok, result.status, result.decline_code) == (
        False,
        "failed",
        "payment_intent_unexpected_state",
    )


def test_void_cancels_the_intent(gateway, api, recording):
    api.post(f"{API}/payment_intents/{PI}/cancel", json=recording("stripe_payment_intent_canceled"))
    result = gateway.void(reference=PI, idempotency_key="pay-1:void")
    assert (result.ok, result.status, result.reference) == (True, "voided", PI)
    assert api.calls[0].request.headers["Idempotency-Key"] == "pay-1:void"


def test_refund_creates_a_refund_on_the_intent(gateway, api, recording):
    api.post(f"{API}/refunds", json=recording("stripe_refund_succeeded"))
    result = gateway.refund(
        reference=PI, amount=Decimal("15.00"), currency="USD", idempotency_key="pay-1:refund:r1"
    )
    assert (result.ok, result.status, result.amount) == (True, "refunded", Decimal("15.00"))
    assert result.reference == "re_3QxAbC2eZvKYlo2C1d9Vn4Tq"
    assert form(api.calls[0]) == {"payment_intent": PI, "amount": "1500"}
    assert api.calls[0].request.headers["Idempotency-Key"] == "pay-1:refund:r1"


def test_refund_timeout_is_a_gateway_error(gateway, api):
    api.post(f"{API}/refunds", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(GatewayError):
        gateway.refund(reference=PI, amount=Decimal("1.00"), currency="USD", idempotency_key="k")


def stripe_signature(payload: bytes, secret: str = WHSEC, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class TestIncrementAuthorization:
    def test_asks_for_the_new_total_and_returns_the_larger_hold(self, gateway, api, recording):
        body = recording("stripe_payment_intent_requires_capture") | {
            "amount": 6399,
            "amount_capturable": 6399,
        }
        api.post(f"{API}/payment_intents/{PI}/increment_authorization", json=body)
        result = gateway.increment_authorization(
            reference=PI, amount=Decimal("63.99"), currency="USD", idempotency_key="pay-1:inc"
        )
        assert (result.ok, result.status, result.amount) == (True, "authorized", Decimal("63.99"))
        assert form(api.calls[0]) == {"amount": "6399"}
        assert api.calls[0].request.headers["Idempotency-Key"] == "pay-1:inc"

    def test_a_card_that_will_not_hold_more_is_a_decline(self, gateway, api, recording):
        api.post(
            f"{API}/payment_intents/{PI}/increment_authorization",
            status=402,
            json=recording("stripe_card_declined"),
        )
        result = gateway.increment_authorization(
            reference=PI, amount=Decimal("63.99"), currency="USD", idempotency_key="pay-1:inc"
        )
        assert not result.ok and result.status == "declined"

    def test_authorizations_ask_for_incremental_support(self, gateway, api, recording):
        api.post(f"{API}/payment_intents", json=recording("stripe_payment_intent_requires_capture"))
        authorize(gateway)
        sent = form(api.calls[0])
        assert sent["payment_method_options[card][request_incremental_authorization]"] == (
            "if_available"
        )


class TestWebhooks:
    def test_payment_intent_succeeded_is_a_capture(self, gateway, recording):
        payload = json.dumps(recording("stripe_event_payment_intent_succeeded")).encode()
        event = gateway.parse_webhook(
            payload=payload, headers={"Stripe-Signature": stripe_signature(payload)}
        )
        assert event.id == "evt_3QxAbC2eZvKYlo2C1Ls0qWfA"
        assert event.type == EventType.CAPTURED
        assert event.reference == PI
        assert event.amount == Decimal("30.00")

    def test_charge_refunded_carries_the_cumulative_refund(self, gateway, recording):
        payload = json.dumps(recording("stripe_event_charge_refunded")).encode()
        event = gateway.parse_webhook(
            payload=payload, headers={"stripe-signature": stripe_signature(payload)}
        )
        assert (event.type, event.reference, event.amount) == (
            EventType.REFUNDED,
            PI,
            Decimal("15.00"),
        )

    @pytest.mark.parametrize(
        "make_header",
        [
            lambda p: stripe_signature(p, secret="whsec_wrong"),
            lambda p: stripe_signature(b"tampered" + p),
            lambda p: stripe_signature(p, timestamp=int(time.time()) - 3600),  # replayed
            lambda p: "",
        ],
    )
    def test_bad_signature_is_refused(self, gateway, recording, make_header):
        payload = json.dumps(recording("stripe_event_charge_refunded")).encode()
        with pytest.raises(WebhookSignatureError):
            gateway.parse_webhook(
                payload=payload, headers={"Stripe-Signature": make_header(payload)}
            )

    def test_without_a_secret_every_webhook_is_refused(self, recording):
        payload = json.dumps(recording("stripe_event_charge_refunded")).encode()
        gateway = StripeGateway(api_key="sk_test_123", webhook_secret=None)
        with pytest.raises(WebhookSignatureError):
            gateway.parse_webhook(
                payload=payload, headers={"Stripe-Signature": stripe_signature(payload)}
            )
