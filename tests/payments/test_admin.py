"""The admin shows payments, refunds and the gateway log read-only."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import GatewayCall, Payment, PaymentWebhookEvent, Refund
from payments.services import payment_refund

from .factories import captured_payment, card_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment():
    payment = captured_payment(amount="100.00")
    payment_refund(
        payment_id=payment.pk,
        amount=Decimal("10.00"),
        reason="damaged",
        actor=None,
        idempotency_key="r-1",
    )
    return payment


@pytest.mark.parametrize("model", [Payment, Refund, GatewayCall, PaymentWebhookEvent])
def test_lists_render_and_nothing_can_be_added(admin_client, payment, model):
    opts = model._meta
    assert (
        admin_client.get(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        ).status_code
        == 200
    )
    assert (
        admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code
        == 403
    )


def test_search_by_order_number_and_reference(admin_client, payment):
    url = reverse("admin:payments_payment_changelist")
    for term in (payment.order.number, payment.reference):
        response = admin_client.get(url, {"q": term})
        assert response.context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "NO-SUCH"}).context["cl"].result_count == 0


def test_payment_page_is_read_only_and_hides_the_token(admin_client, payment):
    url = reverse("admin:payments_payment_change", args=[payment.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert payment.reference in body and "damaged" in body  # refund inline
    assert 'name="status"' not in body  # shown, not editable
    assert admin_client.post(url, {"status": "refunded"}).status_code == 403
    payment.refresh_from_db()
    assert payment.status == "partially_refunded"


def test_the_clients_token_is_not_shown(admin_client):
    pending = card_payment(token="tok_secret_one_time")
    body = admin_client.get(
        reverse("admin:payments_payment_change", args=[pending.pk])
    ).content.decode()
    assert "tok_secret_one_time" not in body
