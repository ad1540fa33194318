"""The built-in test gateway and the manual (cash on delivery) gateway: no DB, no network."""

import json
from decimal import Decimal

import pytest

from core.signatures import sign
from payments.gateways import GatewayError, WebhookSignatureError
from payments.gateways.base import WebhookPayloadError, from_minor_units, to_minor_units
from payments.gateways.manual import ManualGateway
from payments.gateways.test_gateway import TestGateway

AMOUNT = Decimal("53.99")


def authorize(gw, token, key="order-1:authorize"):
    return gw.authorize(
        amount=AMOUNT, currency="USD", token=token, idempotency_key=key, metadata={"order": "1"}
    )


class TestTokens:
    def test_visa_authorizes_with_low_risk(self):
        result = authorize(TestGateway(), "tok_visa")
        assert result.ok
        assert result.status == "authorized"
        assert result.amount == AMOUNT
        assert result.risk_score == 5
        assert result.reference.startswith("test_pi_")

    def test_charge_declined_is_a_result_not_an_exception(self):
        result = authorize(TestGateway(), "tok_chargeDeclined")
        assert not result.ok
        assert result.status == "declined"
        assert result.decline_code == "card_declined"

    def test_risk_high_authorizes_with_high_risk(self):
        result = authorize(TestGateway(), "tok_riskHigh")
        assert result.ok and result.status == "authorized"
        assert result.risk_score == 90

    def test_unknown_token_is_declined_as_invalid(self):
        result = authorize(TestGateway(), "tok_nonsense")
        assert (result.ok, result.status, result.decline_code) == (
            False,
            "declined",
            "invalid_token",
        )

    def test_timeout_token_raises_gateway_error_and_is_recorded(self):
        with pytest.raises(GatewayError):
            authorize(TestGateway(), "tok_timeout")
        assert [(c.operation, c.result) for c in TestGateway.calls] == [("authorize", None)]


class TestDeterminism:
    def test_same_key_same_result_even_from_another_instance(self):
        # A capture in a Celery worker builds its own instance: no shared state needed.
        first = authorize(TestGateway(), "tok_visa", key="k-1")
        again = authorize(TestGateway(), "tok_visa", key="k-1")
        other = authorize(TestGateway(), "tok_visa", key="k-2")
        assert first == again
        assert other.reference != first.reference

    def test_capture_and_refund_work_on_a_reference_from_elsewhere(self):
        reference = authorize(TestGateway(), "tok_visa").reference
        worker = TestGateway()
        captured = worker.capture(
            reference=reference, amount=Decimal("20.00"), currency="USD", idempotency_key="c-1"
        )
        assert (captured.ok, captured.status, captured.amount) == (
            True,
            "captured",
            Decimal("20.00"),
        )
        refunded = worker.refund(
            reference=reference, amount=Decimal("5.00"), currency="USD", idempotency_key="r-1"
        )
        assert refunded.ok and refunded.status == "refunded"
        assert refunded.reference.startswith("test_re_")
        assert refunded == worker.refund(
            reference=reference, amount=Decimal("5.00"), currency="USD", idempotency_key="r-1"
        )

    def test_unknown_reference_fails(self):
        result = TestGateway().capture(
            reference="pi_elsewhere", amount=Decimal("1.00"), currency="USD", idempotency_key="c"
        )
        assert not result.ok and result.status == "failed"

    def test_calls_are_recorded_and_reset(self):
        gw = TestGateway()
        authorize(gw, "tok_visa")
        gw.void(reference="test_pi_x", idempotency_key="v-1")
        assert [c.operation for c in TestGateway.calls] == ["authorize", "void"]
        assert TestGateway.calls[0].kwargs["token"] == "tok_visa"
        assert TestGateway.calls[1].result.status == "voided"
        TestGateway.reset()
        assert TestGateway.calls == []


class TestWebhooks:
    SECRET = "s3"

    def body(self, **overrides):
        event = {
            "id": "evt_1",
            "type": "payment.captured",
            "reference": "test_pi_1",
            "amount": "10.50",
        }
        return json.dumps(event | overrides).encode()

    def test_good_signature_parses_the_event(self):
        payload = self.body()
        event = TestGateway(webhook_secret=self.SECRET).parse_webhook(
            payload=payload, headers={"X-Orderly-Signature": sign(payload, self.SECRET)}
        )
        assert (event.id, event.type, event.reference, event.amount) == (
            "evt_1",
            "payment.captured",
            "test_pi_1",
            Decimal("10.50"),
        )

    def test_header_name_is_case_insensitive(self):
        payload = self.body()
        event = TestGateway(webhook_secret=self.SECRET).parse_webhook(
            payload=payload, headers={"x-orderly-signature": sign(payload, self.SECRET)}
        )
        assert event.id == "evt_1"

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"X-Orderly-Signature": "sha256=" + "0" * 64},
            {"X-Orderly-Signature": sign(b"another body", SECRET)},
            {"X-Orderly-Signature": sign(b"{}", "wrong-secret")},
        ],
    )
    def test_bad_or_missing_signature_is_refused(self, headers):
        with pytest.raises(WebhookSignatureError):
            TestGateway(webhook_secret=self.SECRET).parse_webhook(
                payload=self.body(), headers=headers
            )

    def test_no_secret_refuses_everything(self):
        payload = self.body()
        with pytest.raises(WebhookSignatureError):
            TestGateway(webhook_secret=None).parse_webhook(
                payload=payload, headers={"X-Orderly-Signature": sign(payload, "")}
            )

    def test_signed_garbage_is_a_payload_error(self):
        payload = b"not json"
        with pytest.raises(WebhookPayloadError):
            TestGateway(webhook_secret=self.SECRET).parse_webhook(
                payload=payload, headers={"X-Orderly-Signature": sign(payload, self.SECRET)}
            )


class TestManualGateway:
    def test_cod_authorize_holds_nothing(self):
        result = ManualGateway().authorize(
            amount=AMOUNT, currency="INR", token="", idempotency_key="pay-1", metadata={}
        )
        assert (result.ok, result.status, result.reference) == (True, "pending", "cod-pay-1")

    def test_capture_void_refund_are_recorded_as_done(self):
        gw = ManualGateway()
        assert (
            gw.capture(
                reference="cod-pay-1", amount=AMOUNT, currency="INR", idempotency_key="c"
            ).status
            == "captured"
        )
        assert gw.void(reference="cod-pay-1", idempotency_key="v").status == "voided"
        refund = gw.refund(
            reference="cod-pay-1", amount=AMOUNT, currency="INR", idempotency_key="r"
        )
        assert refund.ok and refund.status == "refunded" and refund.amount == AMOUNT

    def test_no_webhooks(self):
        with pytest.raises(WebhookSignatureError):
            ManualGateway().parse_webhook(payload=b"{}", headers={})


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("53.99", "USD", 5399),
        ("1499.00", "INR", 149900),
        ("1500.00", "JPY", 1500),
        ("1.50", "KWD", 1500),
    ],
)
def test_minor_units_round_trip(amount, currency, minor):
    assert to_minor_units(Decimal(amount), currency) == minor
    assert from_minor_units(minor, currency) == Decimal(amount)


def test_fractional_yen_is_refused():
    with pytest.raises(ValueError):
        to_minor_units(Decimal("10.50"), "JPY")
