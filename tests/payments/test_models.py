"""Payment state machine and the database's own guarantees."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from payments.models import Payment

from .factories import card_payment, cod_payment

pytestmark = pytest.mark.django_db

D = Decimal


def test_status_cannot_be_assigned_directly():
    payment = card_payment()
    with pytest.raises(AttributeError):
        payment.status = "captured"


def test_capture_needs_an_authorization_except_for_cash():
    with pytest.raises(TransitionNotAllowed):
        card_payment().capture(amount=D("1.00"), at=timezone.now())
    cash = cod_payment(amount="10.00")
    cash.capture(amount=D("10.00"), at=timezone.now())
    assert (cash.status, cash.amount_authorized) == ("captured", D("10.00"))


def test_refund_target_depends_on_the_amount():
    payment = card_payment()
    now = timezone.now()
    payment.authorize(amount=D("100.00"), reference="test_pi_x", risk_score=5, at=now)
    payment.capture(amount=D("100.00"), at=now)
    payment.refund(amount=D("40.00"))
    assert payment.status == "partially_refunded"
    payment.refund(amount=D("60.00"))
    assert payment.status == "refunded"
    with pytest.raises(TransitionNotAllowed):
        payment.refund(amount=D("1.00"))


def test_a_failed_payment_is_final():
    payment = card_payment()
    payment.fail(decline_code="card_declined", message="declined")
    for move in (
        lambda: payment.authorize(
            amount=D("1.00"), reference="r", risk_score=None, at=timezone.now()
        ),
        lambda: payment.void(reason="x"),
    ):
        with pytest.raises(TransitionNotAllowed):
            move()


@pytest.mark.parametrize(
    "values",
    [
        {"amount_captured": D("1.00")},  # captured above authorized (0)
        {
            "amount_authorized": D("10.00"),
            "amount_captured": D("5.00"),
            "amount_refunded": D("6.00"),
        },
        {"amount": D("-1.00")},
    ],
)
def test_database_check_constraints(values):
    payment = card_payment()
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(**values)


def test_refresh_from_db_works_with_the_protected_status():
    payment = card_payment()
    payment.refresh_from_db()
    assert payment.status == "pending"
