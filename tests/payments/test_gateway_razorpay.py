"""The Razorpay adapter against recorded HTTP responses (the `responses` library)."""

import hashlib
import hmac
import json
from decimal import Decimal

import pytest
import requests
import responses

from payments.gateways import EventType, GatewayError, WebhookSignatureError
from payments.gateways.razorpay_gateway import RazorpayGateway

API = "https://api.razorpay.com/v1/payments"
PAY = "pay_PZ8cH4kLmQ2rTu"
WEBHOOK_SECRET = "rzp_whsec_9f8e7d"


@pytest.fixture
def gateway():
    return RazorpayGateway(
        key_id="rzp_test_key", key_secret="rzp_test_secret", webhook_secret=WEBHOOK_SECRET
    )


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def authorize(gateway, token=PAY, amount="1499.00"):
    return gateway.authorize(
        amount=Decimal(amount),
        currency="INR",
        token=token,
        idempotency_key="pay-7:authorize",
        metadata={"order": "IN-000042"},
    )


class TestAuthorize:
    def test_authorized_payment_with_the_right_amount(self, gateway, api, recording):
        api.get(f"{API}/{PAY}", json=recording("razorpay_payment_authorized"))
        result = authorize(gateway)
        assert (result.ok, result.status, result.reference, result.amount) == (
            True,
            "authorized",
            PAY,
            Decimal("1499.00"),
        )
        assert result.risk_score is None
        assert api.calls[0].request.headers["Authorization"].startswith("Basic ")

    def test_amount_mismatch_is_declined(self, gateway, api, recording):
        api.get(f"{API}/{PAY}", json=recording("razorpay_payment_authorized"))
        result = authorize(gateway, amount="1999.00")
        assert (result.ok, result.status, result.decline_code) == (
            False,
            "declined",
            "amount_mismatch",
        )

    def test_failed_payment_is_declined_with_its_reason(self, gateway, api, recording):
        api.get(f"{API}/pay_PZ8dK9mNoP3sVw", json=recording("razorpay_payment_failed"))
        result = authorize(gateway, token="pay_PZ8dK9mNoP3sVw")
        assert (result.ok, result.status, result.decline_code) == (
            False,
            "declined",
            "insufficient_balance",
        )

    def test_unknown_payment_id_is_declined(self, gateway, api, recording):
        api.get(f"{API}/pay_nope", status=400, json=recording("razorpay_error_invalid_id"))
        result = authorize(gateway, token="pay_nope")
        assert (result.status, result.decline_code) == ("declined", "invalid_token")

    def test_not_a_payment_id_is_declined_without_a_call(self, gateway, api):
        result = authorize(gateway, token="tok_visa")
        assert (result.status, result.decline_code) == ("declined", "invalid_token")
        assert len(api.calls) == 0

    def test_timeout_is_a_gateway_error(self, gateway, api):
        api.get(f"{API}/{PAY}", body=requests.exceptions.ReadTimeout("read timed out"))
        with pytest.raises(GatewayError):
            authorize(gateway)

    def test_server_error_is_a_gateway_error(self, gateway, api, recording):
        api.get(f"{API}/{PAY}", status=500, json=recording("razorpay_error_server"))
        with pytest.raises(GatewayError):
            authorize(gateway)

    def test_bad_api_keys_are_not_the_customers_fault(self, gateway, api):
        api.get(
            f"{API}/{PAY}",
            status=401,
            json={"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}},
        )
        with pytest.raises(GatewayError):
            authorize(gateway)


class TestCapture:
    def test_capture_sends_paise_and_currency(self, gateway, api, recording):
        api.post(f"{API}/{PAY}/capture", json=recording("razorpay_payment_captured"))
        result = gateway.capture(
            reference=PAY, amount=Decimal("1499.00"), currency="INR", idempotency_key="k"
        )
        assert (result.ok, result.status, result.amount) == (True, "captured", Decimal("1499.00"))
        assert json.loads(api.calls[0].request.body) == {"currency": "INR", "amount": 149900}

    def test_retry_after_a_lost_response_finds_it_captured(self, gateway, api, recording):
        api.post(
            f"{API}/{PAY}/capture", status=400, json=recording("razorpay_error_already_captured")
        )
        api.get(f"{API}/{PAY}", json=recording("razorpay_payment_captured"))
        result = gateway.capture(
            reference=PAY, amount=Decimal("1499.00"), currency="INR", idempotency_key="k"
        )
        assert result.ok and result.status == "captured"

    def test_capture_refused_for_a_failed_payment(self, gateway, api, recording):
        api.post(
            f"{API}/pay_PZ8dK9mNoP3sVw/capture",
            status=400,
            json={
                "error": {
                    "code": "BAD_REQUEST_ERROR",
                    "description": "Only payments which have been authorized and not yet "
                    "captured can be captured",
                }
            },
        )
        api.get(f"{API}/pay_PZ8dK9mNoP3sVw", json=recording("razorpay_payment_failed"))
        result = gateway.capture(
            reference="pay_PZ8dK9mNoP3sVw",
            amount=Decimal("1499.00"),
            currency="INR",
            idempotency_key="k",
        )
        assert (result.ok, result.status) == (False, "failed")
        assert "authorized" in result.message

    def test_capture_timeout_is_a_gateway_error(self, gateway, api):
        api.post(f"{API}/{PAY}/capture", body=requests.exceptions.ConnectionError("reset"))
        with pytest.raises(GatewayError):
            gateway.capture(
                reference=PAY, amount=Decimal("1499.00"), currency="INR", idempotency_key="k"
            )


class TestVoid:
    def test_authorized_payment_is_left_to_expire(self, gateway, api, recording):
        api.get(f"{API}/{PAY}", json=recording("razorpay_payment_authorized"))
        result = gateway.void(reference=PAY, idempotency_key="pay-7:void")
        assert (result.ok, result.status) == (True, "voided")
        assert [c.request.method for c in api.calls] == ["GET"]  # nothing was changed

    def test_captured_payment_is_refunded_in_full(self, gateway, api, recording):
        api.get(f"{API}/{PAY}", json=recording("razorpay_payment_captured"))
        api.get(f"{API}/{PAY}/refunds", json=recording("razorpay_refunds_empty"))
        api.post(
            f"{API}/{PAY}/refund", json=recording("razorpay_refund_processed") | {"amount": 149900}
        )
        result = gateway.void(reference=PAY, idempotency_key="pay-7:void")
        assert (result.ok, result.status) == (True, "voided")
        assert json.loads(api.calls[2].request.body)["amount"] == 149900


class TestRefund:
    def test_refund_sends_amount_and_key(self, gateway, api, recording):
        api.get(f"{API}/{PAY}/refunds", json=recording("razorpay_refunds_empty"))
        api.post(f"{API}/{PAY}/refund", json=recording("razorpay_refund_processed"))
        result = gateway.refund(
            reference=PAY,
            amount=Decimal("500.00"),
            currency="INR",
            idempotency_key="pay-7:refund:r1",
        )
        assert (result.ok, result.status, result.amount, result.reference) == (
            True,
            "refunded",
            Decimal("500.00"),
            "rfnd_PZ9aB1cD2eF3gH",
        )
        sent = json.loads(api.calls[1].request.body)
        assert sent["amount"] == 50000
        assert sent["notes"] == {"idempotency_key": "pay-7:refund:r1"}
        assert len(sent["receipt"]) <= 40

    def test_retry_finds_the_earlier_refund_instead_of_refunding_twice(
        self, gateway, api, recording
    ):
        earlier = recording("razorpay_refund_processed") | {
            "notes": {"idempotency_key": "pay-7:refund:r1"}
        }
        api.get(
            f"{API}/{PAY}/refunds", json={"entity": "collection", "count": 1, "items": [earlier]}
        )
        result = gateway.refund(
            reference=PAY,
            amount=Decimal("500.00"),
            currency="INR",
            idempotency_key="pay-7:refund:r1",
        )
        assert result.ok and result.reference == "rfnd_PZ9aB1cD2eF3gH"
        assert [c.request.method for c in api.calls] == ["GET"]

    def test_refund_refused_is_a_failed_result(self, gateway, api, recording):
        api.get(f"{API}/{PAY}/refunds", json=recording("razorpay_refunds_empty"))
        api.post(
            f"{API}/{PAY}/refund",
            status=400,
            json={
                "error": {
                    "code": "BAD_REQUEST_ERROR",
                    "description": "The refund amount provided is greater than amount captured",
                }
            },
        )
        result = gateway.refund(
            reference=PAY, amount=Decimal("5000.00"), currency="INR", idempotency_key="k"
        )
        assert (result.ok, result.status) == (False, "failed")

    def test_refund_timeout_is_a_gateway_error(self, gateway, api, recording):
        api.get(f"{API}/{PAY}/refunds", json=recording("razorpay_refunds_empty"))
        api.post(f"{API}/{PAY}/refund", body=requests.exceptions.ReadTimeout("read timed out"))
        with pytest.raises(GatewayError):
            gateway.refund(
                reference=PAY, amount=Decimal("1.00"), currency="INR", idempotency_key="k"
            )


def razorpay_signature(payload: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


class TestWebhooks:
    def test_payment_captured(self, gateway, recording):
        payload = json.dumps(recording("razorpay_webhook_payment_captured")).encode()
        event = gateway.parse_webhook(
            payload=payload,
            headers={
                "X-Razorpay-Signature": razorpay_signature(payload),
                "X-Razorpay-Event-Id": "KxQ1aB2cD3eF4g",
            },
        )
        assert (event.id, event.type, event.reference, event.amount) == (
            "KxQ1aB2cD3eF4g",
            EventType.CAPTURED,
            PAY,
            Decimal("1499.00"),
        )

    def test_refund_processed_carries_the_cumulative_refund(self, gateway, recording):
        payload = json.dumps(recording("razorpay_webhook_refund_processed")).encode()
        event = gateway.parse_webhook(
            payload=payload, headers={"x-razorpay-signature": razorpay_signature(payload)}
        )
        assert (event.type, event.reference, event.amount) == (
            EventType.REFUNDED,
            PAY,
            Decimal("500.00"),
        )
        assert event.id == hashlib.sha256(payload).hexdigest()  # no event-id header given

    def test_auto_refund_of_an_uncaptured_payment_is_a_void(self, gateway, recording):
        body = recording("razorpay_webhook_refund_processed")
        body["payload"]["payment"]["entity"]["captured"] = False
        payload = json.dumps(body).encode()
        event = gateway.parse_webhook(
            payload=payload, headers={"X-Razorpay-Signature": razorpay_signature(payload)}
        )
        assert event.type == EventType.VOIDED

    @pytest.mark.parametrize(
        "signature",
        ["", "0" * 64, razorpay_signature(b"{}"), razorpay_signature(b"x", "other-secret")],
    )
    def test_bad_signature_is_refused(self, gateway, recording, signature):
        payload = json.dumps(recording("razorpay_webhook_payment_captured")).encode()
        with pytest.raises(WebhookSignatureError):
            gateway.parse_webhook(payload=payload, headers={"X-Razorpay-Signature": signature})
