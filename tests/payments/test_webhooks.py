"""Gateway webhooks applied to payments: signed, idempotent, cumulative amounts."""

import json
from decimal import Decimal

import pytest
from celery import shared_task

from core.signatures import sign
from payments.gateways import EventType, WebhookEvent, WebhookSignatureError
from payments.gateways.test_gateway import TestGateway
from payments.models import PaymentWebhookEvent, Refund
from payments.services import payment_apply_webhook, payment_refund

from .factories import authorized_payment, captured_payment

pytestmark = pytest.mark.django_db

D = Decimal


def event(payment, kind, amount=None, event_id="evt_1"):
    return WebhookEvent(
        id=event_id, type=kind, reference=payment.reference, amount=amount, data={"id": event_id}
    )


def test_signed_test_gateway_event_end_to_end():
    payment = captured_payment(amount="100.00")
    body = json.dumps(
        {
            "id": "evt_9",
            "type": "payment.refunded",
            "reference": payment.reference,
            "amount": "40.00",
        }
    ).encode()
    parsed = TestGateway(webhook_secret="s3").parse_webhook(
        payload=body, headers={"X-Orderly-Signature": sign(body, "s3")}
    )
    changed = payment_apply_webhook(gateway="test", event=parsed)
    assert changed.pk == payment.pk
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", D("40.00"))
    external = Refund.objects.get(payment=payment)
    assert (external.status, external.amount, external.source) == (
        "succeeded",
        D("40.00"),
        "gateway:test",
    )
    # The same event again changes nothing.
    assert payment_apply_webhook(gateway="test", event=parsed) is None
    payment.refresh_from_db()
    assert payment.amount_refunded == D("40.00")
    assert Refund.objects.count() == 1
    with pytest.raises(WebhookSignatureError):
        TestGateway(webhook_secret="s3").parse_webhook(
            payload=body, headers={"X-Orderly-Signature": sign(body, "wrong")}
        )


def test_refund_we_made_is_not_counted_again():
    payment = captured_payment(amount="100.00")
    payment_refund(
        payment_id=payment.pk, amount=D("25.00"), reason="", actor=None, idempotency_key="r-1"
    )
    assert payment_apply_webhook(
        gateway="test", event=event(payment, EventType.REFUNDED, D("25.00"))
    )
    payment.refresh_from_db()
    assert payment.amount_refunded == D("25.00")
    assert PaymentWebhookEvent.objects.get().outcome == "ignored"


def test_capture_reported_by_the_gateway():
    payment = authorized_payment(amount="100.00")
    payment_apply_webhook(gateway="test", event=event(payment, EventType.CAPTURED, D("60.00")))
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == ("captured", D("60.00"))
    # Older news (a smaller cumulative amount) arriving late changes nothing.
    payment_apply_webhook(
        gateway="test", event=event(payment, EventType.CAPTURED, D("50.00"), event_id="evt_2")
    )
    payment.refresh_from_db()
    assert payment.amount_captured == D("60.00")


def test_authorization_expired_at_the_gateway():
    payment = authorized_payment()
    payment_apply_webhook(gateway="test", event=event(payment, EventType.VOIDED))
    payment.refresh_from_db()
    assert payment.status == "voided"


def test_events_for_unknown_payments_are_kept_but_change_nothing():
    result = payment_apply_webhook(
        gateway="test",
        event=WebhookEvent(
            id="evt_x",
            type=EventType.CAPTURED,
            reference="test_pi_unknown",
            amount=D("1.00"),
            data={},
        ),
    )
    assert result is None
    assert PaymentWebhookEvent.objects.get().outcome == "unknown_payment"


def test_same_event_id_from_another_gateway_is_another_event():
    payment = authorized_payment()
    payment_apply_webhook(gateway="stripe", event=event(payment, EventType.VOIDED))
    payment.refresh_from_db()
    assert payment.status == "authorized"  # the payment is not a stripe payment
    assert payment_apply_webhook(gateway="test", event=event(payment, EventType.VOIDED))
    assert PaymentWebhookEvent.objects.count() == 2


synced_orders = []


@shared_task(name="tests.payments.record_order_sync")
def record_order_sync(order_id):
    synced_orders.append(order_id)


def test_orders_are_told_by_task_name_after_commit(settings, django_capture_on_commit_callbacks):
    settings.PAYMENTS_ORDER_SYNC_TASK = "tests.payments.record_order_sync"
    synced_orders.clear()
    payment = authorized_payment()
    with django_capture_on_commit_callbacks(execute=True):
        payment_apply_webhook(gateway="test", event=event(payment, EventType.VOIDED))
    assert synced_orders == [payment.order_id]
    with django_capture_on_commit_callbacks(execute=True):  # a repeat tells nobody
        payment_apply_webhook(gateway="test", event=event(payment, EventType.VOIDED))
    assert synced_orders == [payment.order_id]


class TestEndpoint:
    """POST /api/v1/webhooks/payments/{gateway}/ (payments/urls.py)."""

    @pytest.fixture(autouse=True)
    def _urls(self, settings):
        settings.ROOT_URLCONF = "tests.payments.urls"
        settings.WEBHOOK_SECRETS = {"gateway": {"test": "s3", "stripe": ""}}

    def post(self, client, gateway, body, signature):
        headers = {"HTTP_X_ORDERLY_SIGNATURE": signature} if signature is not None else {}
        return client.post(
            f"/api/v1/webhooks/payments/{gateway}/",
            data=body,
            content_type="application/json",
            **headers,
        )

    def test_signed_event_is_applied_once(self, client):
        payment = captured_payment(amount="100.00")
        body = json.dumps(
            {
                "id": "evt_web",
                "type": "payment.refunded",
                "reference": payment.reference,
                "amount": "30.00",
            }
        ).encode()
        for _ in range(2):
            response = self.post(client, "test", body, sign(body, "s3"))
            assert response.status_code == 200, response.content
        payment.refresh_from_db()
        assert payment.amount_refunded == D("30.00")

    def test_signature_hex_in_upper_case_is_accepted(self, client):
        payment = captured_payment(amount="100.00")
        body = json.dumps(
            {"id": "evt_up", "type": "payment.refunded", "reference": payment.reference,
             "amount": "5.00"}
        ).encode()  # fmt: skip
        prefix, hexdigest = sign(body, "s3").split("=")
        response = self.post(client, "test", body, f"{prefix}={hexdigest.upper()}")
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize("depth", [5000, 900])  # past the parser's stack, just under it
    def test_body_nested_too_deeply_is_400(self, client, depth):
        body = b'{"id": "evt_deep", "type": "payment.voided", "x": ' + b"[" * depth
        body += b"]" * depth + b"}"
        response = self.post(client, "test", body, sign(body, "s3"))
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "VALIDATION_FAILED"
        assert not PaymentWebhookEvent.objects.exists()

    def test_non_ascii_signature_is_401(self, client):
        body = b'{"id": "evt_x", "type": "payment.voided"}'
        response = self.post(client, "test", body, "sha256=\u00e9t\u00e9")
        assert response.status_code == 401, response.content

    @pytest.mark.parametrize(
        ("gateway", "signature"),
        [
            ("test", None),
            ("test", "sha256=00"),
            ("stripe", "t=1,v1=00"),
            ("paypal", "x"),
            ("manual", "x"),
        ],
    )
    def test_unsigned_or_unknown_is_refused_and_changes_nothing(self, client, gateway, signature):
        payment = captured_payment(amount="100.00")
        body = json.dumps(
            {
                "id": "evt_bad",
                "type": "payment.refunded",
                "reference": payment.reference,
                "amount": "30.00",
            }
        ).encode()
        response = self.post(client, gateway, body, signature)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
        payment.refresh_from_db()
        assert payment.amount_refunded == 0
        assert not PaymentWebhookEvent.objects.exists()

    def test_signed_garbage_is_a_400(self, client):
        response = self.post(client, "test", b"[1, 2", sign(b"[1, 2", "s3"))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_FAILED"
