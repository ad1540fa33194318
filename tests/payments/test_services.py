"""Payment services against PostgreSQL and the built-in test gateway."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from payments.errors import (
    CaptureExceedsAuthorized,
    GatewayRefused,
    IdempotencyKeyReused,
    InvalidAmount,
    OperationInProgress,
    RefundExceedsCaptured,
    TransitionNotAllowed,
)
from payments.gateways import GatewayError
from payments.gateways.test_gateway import TestGateway
from payments.models import GatewayCall, Payment, Refund
from payments.services import (
    payment_authorize,
    payment_capture,
    payment_refund,
    payment_void,
)

from .factories import authorized_payment, captured_payment, card_payment, cod_payment

pytestmark = pytest.mark.django_db

D = Decimal


def gateway_ops(operation=None):
    return [c.operation for c in TestGateway.calls if operation in (None, c.operation)]


class TestAuthorize:
    def test_visa_authorizes_and_stores_the_gateway_answer(self):
        payment = card_payment(amount="53.99")
        payment = payment_authorize(payment_id=payment.pk)
        assert payment.status == "authorized"
        assert payment.amount_authorized == D("53.99")
        assert payment.reference.startswith("test_pi_")
        assert payment.risk_score == 5
        assert payment.authorized_at is not None
        assert payment.token == ""  # the one-time token is not kept
        call = GatewayCall.objects.get(payment=payment)
        assert (call.operation, call.ok, call.status, call.attempts) == (
            "authorize",
            True,
            "authorized",
            1,
        )
        assert TestGateway.calls[0].kwargs["metadata"]["order"] == payment.order.number

    def test_repeating_changes_nothing_and_calls_nothing(self):
        payment = authorized_payment()
        again = payment_authorize(payment_id=payment.pk)
        assert again.status == "authorized"
        assert gateway_ops("authorize") == ["authorize"]

    def test_decline_fails_the_payment(self):
        payment = card_payment(token="tok_chargeDeclined")
        payment = payment_authorize(payment_id=payment.pk)
        assert payment.status == "failed"
        assert payment.decline_code == "card_declined"
        assert payment.amount_authorized == 0
        assert payment_authorize(payment_id=payment.pk).status == "failed"
        assert gateway_ops() == ["authorize"]

    def test_high_risk_signal_is_kept(self):
        assert authorized_payment(token="tok_riskHigh").risk_score == 90

    def test_timeout_raises_for_a_retry_which_reuses_the_key(self):
        payment = card_payment(token="tok_timeout")
        with pytest.raises(GatewayError):
            payment_authorize(payment_id=payment.pk)
        payment.refresh_from_db()
        assert payment.status == "pending"
        call = GatewayCall.objects.get(payment=payment)
        assert call.ok is None and "timeout" in call.error
        # The gateway recovers (here: the token now succeeds); the task's retry:
        Payment.objects.filter(pk=payment.pk).update(token="tok_visa")
        payment = payment_authorize(payment_id=payment.pk)
        assert payment.status == "authorized"
        call.refresh_from_db()
        assert (call.ok, call.attempts, call.error) == (True, 2, "")
        keys = {c.kwargs["idempotency_key"] for c in TestGateway.calls}
        assert keys == {call.idempotency_key}

    def test_cash_on_delivery_has_nothing_to_authorize(self):
        payment = cod_payment()
        assert payment_authorize(payment_id=payment.pk).status == "pending"
        assert TestGateway.calls == [] and not GatewayCall.objects.exists()

    def test_refuses_to_call_the_gateway_inside_a_transaction(self):
        payment = card_payment()
        with pytest.raises(RuntimeError, match="inside a transaction"), transaction.atomic():
            payment_authorize(payment_id=payment.pk)
        assert TestGateway.calls == []

    def test_cancelled_while_authorizing_releases_the_hold(self, monkeypatch):
        payment = card_payment()
        real_authorize = TestGateway.authorize

        def authorize_while_order_is_cancelled(self, **kwargs):
            payment_void(payment_id=payment.pk, actor=None, reason="customer cancelled")
            return real_authorize(self, **kwargs)

        monkeypatch.setattr(TestGateway, "authorize", authorize_while_order_is_cancelled)
        payment = payment_authorize(payment_id=payment.pk)
        assert payment.status == "voided"
        assert gateway_ops() == ["authorize", "void"]


class TestCapture:
    def test_partial_captures_add_up_to_the_authorization(self):
        payment = authorized_payment(amount="100.00")
        payment = payment_capture(
            payment_id=payment.pk, amount=D("30.00"), actor=None, idempotency_key="ship-1"
        )
        assert (payment.status, payment.amount_captured) == ("captured", D("30.00"))
        assert payment.captured_at is not None
        payment = payment_capture(
            payment_id=payment.pk, amount=D("70.00"), actor=None, idempotency_key="ship-2"
        )
        assert (payment.status, payment.amount_captured) == ("captured", D("100.00"))
        finals = [c.kwargs["final"] for c in TestGateway.calls_for("capture")]
        assert finals == [False, True]
        with pytest.raises(CaptureExceedsAuthorized):
            payment_capture(
                payment_id=payment.pk, amount=D("0.01"), actor=None, idempotency_key="ship-3"
            )
        assert len(TestGateway.calls_for("capture")) == 2

    def test_same_key_captures_once(self):
        payment = authorized_payment()
        for _ in range(2):
            payment = payment_capture(
                payment_id=payment.pk, amount=D("30.00"), actor=None, idempotency_key="ship-1"
            )
        assert payment.amount_captured == D("30.00")
        assert len(TestGateway.calls_for("capture")) == 1
        with pytest.raises(IdempotencyKeyReused):
            payment_capture(
                payment_id=payment.pk, amount=D("40.00"), actor=None, idempotency_key="ship-1"
            )

    def test_never_above_the_authorized_amount(self):
        payment = authorized_payment(amount="100.00")
        with pytest.raises(CaptureExceedsAuthorized) as caught:
            payment_capture(
                payment_id=payment.pk, amount=D("100.01"), actor=None, idempotency_key="k"
            )
        assert caught.value.code == "CAPTURE_EXCEEDS_AUTHORIZED"
        assert TestGateway.calls_for("capture") == []

    @pytest.mark.parametrize("amount", ["0", "-5", "1.005", "abc"])
    def test_bad_amounts_are_refused(self, amount):
        payment = authorized_payment()
        with pytest.raises(InvalidAmount):
            payment_capture(payment_id=payment.pk, amount=amount, actor=None, idempotency_key="k")

    def test_pending_or_failed_card_payments_cannot_be_captured(self):
        for payment in (card_payment(), authorized_payment(token="tok_chargeDeclined")):
            with pytest.raises(TransitionNotAllowed):
                payment_capture(
                    payment_id=payment.pk,
                    amount=D("1.00"),
                    actor=None,
                    idempotency_key=f"k-{payment.pk}",
                )

    def test_refused_capture_is_reported_and_recorded(self):
        payment = authorized_payment()
        Payment.objects.filter(pk=payment.pk).update(reference="gone")  # e.g. expired
        with pytest.raises(GatewayRefused):
            payment_capture(
                payment_id=payment.pk, amount=D("10.00"), actor=None, idempotency_key="k"
            )
        payment.refresh_from_db()
        assert (payment.status, payment.amount_captured) == ("authorized", 0)
        assert GatewayCall.objects.get(operation="capture").ok is False

    def test_cash_collected_on_delivery(self):
        payment = cod_payment(amount="1499.00")
        payment = payment_capture(
            payment_id=payment.pk, amount=D("1499.00"), actor=None, idempotency_key="delivered-1"
        )
        assert payment.status == "captured"
        assert payment.amount_authorized == payment.amount_captured == D("1499.00")
        with pytest.raises(CaptureExceedsAuthorized):
            payment_capture(
                payment_id=payment.pk, amount=D("1.00"), actor=None, idempotency_key="delivered-2"
            )


class TestVoid:
    def test_void_releases_an_authorization_once(self):
        payment = authorized_payment()
        payment = payment_void(payment_id=payment.pk, actor=None, reason="cancelled")
        assert (payment.status, payment.void_reason) == ("voided", "cancelled")
        assert payment_void(payment_id=payment.pk, actor=None, reason="again").status == "voided"
        assert gateway_ops("void") == ["void"]

    def test_cash_order_voids_without_a_gateway(self):
        payment = payment_void(payment_id=cod_payment().pk, actor=None, reason="cancelled")
        assert payment.status == "voided"
        assert TestGateway.calls == []

    def test_captured_money_is_refunded_not_voided(self):
        payment = captured_payment()
        with pytest.raises(TransitionNotAllowed):
            payment_void(payment_id=payment.pk, actor=None, reason="cancelled")

    def test_void_after_void_leaves_no_authorization_behind(self):
        payment = payment_void(payment_id=card_payment().pk, actor=None, reason="cancelled")
        assert payment_authorize(payment_id=payment.pk).status == "voided"
        assert TestGateway.calls == []


class TestRefund:
    def test_partial_refunds_add_up_to_the_capture(self, django_user_model):
        staff = django_user_model.objects.create(username="ops", is_staff=True)
        payment = captured_payment(amount="100.00", captured="80.00")
        first = payment_refund(
            payment_id=payment.pk,
            amount=D("30.00"),
            reason="damaged",
            actor=staff,
            idempotency_key="r-1",
            source="staff",
        )
        assert (first.status, first.actor, first.source) == ("succeeded", staff, "staff")
        assert first.reference.startswith("test_re_")
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded) == ("partially_refunded", D("30.00"))
        with pytest.raises(RefundExceedsCaptured) as caught:
            payment_refund(
                payment_id=payment.pk,
                amount=D("50.01"),
                reason="",
                actor=None,
                idempotency_key="r-2",
            )
        assert caught.value.http_status == 400
        payment_refund(
            payment_id=payment.pk, amount=D("50.00"), reason="", actor=None, idempotency_key="r-3"
        )
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded) == ("refunded", D("80.00"))
        assert not Refund.objects.filter(idempotency_key="r-2").exists()

    def test_same_key_twice_is_one_refund_and_one_gateway_call(self):
        payment = captured_payment()
        first = payment_refund(
            payment_id=payment.pk,
            amount=D("25.00"),
            reason="",
            actor=None,
            idempotency_key="return:RMA-1",
        )
        again = payment_refund(
            payment_id=payment.pk,
            amount=D("25.00"),
            reason="",
            actor=None,
            idempotency_key="return:RMA-1",
        )
        assert again.pk == first.pk
        payment.refresh_from_db()
        assert payment.amount_refunded == D("25.00")
        assert len(TestGateway.calls_for("refund")) == 1
        with pytest.raises(IdempotencyKeyReused):
            payment_refund(
                payment_id=payment.pk,
                amount=D("26.00"),
                reason="",
                actor=None,
                idempotency_key="return:RMA-1",
            )

    def test_nothing_captured_nothing_to_refund(self):
        with pytest.raises(TransitionNotAllowed):
            payment_refund(
                payment_id=authorized_payment().pk,
                amount=D("1.00"),
                reason="",
                actor=None,
                idempotency_key="r",
            )

    def test_gateway_refusal_fails_the_refund_and_frees_the_ceiling(self):
        payment = captured_payment()
        Payment.objects.filter(pk=payment.pk).update(reference="gone")
        refund = payment_refund(
            payment_id=payment.pk, amount=D("100.00"), reason="", actor=None, idempotency_key="r-1"
        )
        assert refund.status == "failed" and refund.failure_message
        payment.refresh_from_db()
        assert (payment.status, payment.amount_refunded) == ("captured", 0)
        Payment.objects.filter(pk=payment.pk).update(
            reference=TestGateway.calls[0].result.reference
        )
        assert (
            payment_refund(
                payment_id=payment.pk,
                amount=D("100.00"),
                reason="",
                actor=None,
                idempotency_key="r-2",
            ).status
            == "succeeded"
        )

    def test_transient_error_keeps_the_refund_pending_and_counted(self, monkeypatch):
        payment = captured_payment()

        def down(self, **kwargs):
            raise GatewayError("connection reset")

        with monkeypatch.context() as patch:
            patch.setattr(TestGateway, "refund", down)
            with pytest.raises(GatewayError):
                payment_refund(
                    payment_id=payment.pk,
                    amount=D("60.00"),
                    reason="",
                    actor=None,
                    idempotency_key="r-1",
                )
        refund = Refund.objects.get(idempotency_key="r-1")
        assert refund.status == "pending"
        with pytest.raises(RefundExceedsCaptured):  # 60 pending + 41 > 100
            payment_refund(
                payment_id=payment.pk,
                amount=D("41.00"),
                reason="",
                actor=None,
                idempotency_key="r-2",
            )
        refund = payment_refund(
            payment_id=payment.pk, amount=D("60.00"), reason="", actor=None, idempotency_key="r-1"
        )  # the task's retry
        assert refund.status == "succeeded"
        payment.refresh_from_db()
        assert payment.amount_refunded == D("60.00")

    def test_a_call_in_flight_elsewhere_is_not_repeated(self, monkeypatch):
        payment = captured_payment()
        real_refund = TestGateway.refund
        seen = []

        def refund_with_a_redelivered_task(self, **kwargs):
            with pytest.raises(OperationInProgress):
                payment_refund(
                    payment_id=payment.pk,
                    amount=D("10.00"),
                    reason="",
                    actor=None,
                    idempotency_key="r-1",
                )
            seen.append(True)
            return real_refund(self, **kwargs)

        monkeypatch.setattr(TestGateway, "refund", refund_with_a_redelivered_task)
        refund = payment_refund(
            payment_id=payment.pk, amount=D("10.00"), reason="", actor=None, idempotency_key="r-1"
        )
        assert seen == [True] and refund.status == "succeeded"
        assert len(TestGateway.calls_for("refund")) == 1

    def test_cash_refund_is_recorded(self):
        payment = payment_capture(
            payment_id=cod_payment(amount="500.00").pk,
            amount=D("500.00"),
            actor=None,
            idempotency_key="d-1",
        )
        refund = payment_refund(
            payment_id=payment.pk,
            amount=D("500.00"),
            reason="returned",
            actor=None,
            idempotency_key="r-1",
            source="return:RMA-000001",
        )
        assert refund.status == "succeeded"
        payment.refresh_from_db()
        assert payment.status == "refunded"


def test_unknown_payment_is_not_found():
    from payments.errors import PaymentNotFound

    with pytest.raises(PaymentNotFound):
        payment_authorize(payment_id=987654)


def test_database_refuses_refunds_above_the_capture():
    payment = captured_payment(captured="50.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_refunded=D("50.01"))


@pytest.mark.parametrize("key", ["", "k" * 201])
def test_idempotency_keys_must_fit(key):
    from payments.errors import InvalidIdempotencyKey

    payment = captured_payment()
    with pytest.raises(InvalidIdempotencyKey):
        payment_refund(
            payment_id=payment.pk, amount=D("1.00"), reason="", actor=None, idempotency_key=key
        )
    assert not Refund.objects.exists()
