"""Emails and SMS are rendered from the templates and handed to the configured backend
once the caller's transaction commits."""

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications.errors import InvalidNotification
from notifications.models import Notification
from notifications.rendering import render_message
from notifications.services import notification_queue
from notifications.sms import ConsoleSmsBackend, LocmemSmsBackend

pytestmark = pytest.mark.django_db

TEMPLATES = [
    "order_confirmed",
    "order_on_hold",
    "order_cancelled",
    "order_updated",
    "order_shipped",
    "order_delivered",
    "refund_issued",
    "return_update",
    "low_stock_report",
]


def test_confirmation_email_has_subject_text_and_html(
    order_context, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_queue(
            recipient="ana@example.com",
            channel="email",
            template="order_confirmed",
            context=order_context,
            reference="US-000123",
        )

    notification.refresh_from_db()
    assert notification.status == "sent"
    assert notification.attempts == 1
    assert notification.sent_at is not None
    [email] = mail.outbox
    assert email.to == ["ana@example.com"]
    assert email.from_email == "Orderly <orders@orderly.local>"
    assert email.subject == "Your order US-000123 is confirmed"
    assert "Hi Ana Cruz," in email.body
    assert "2 × T-shirt red M (TSHIRT-RED-M)" in email.body
    assert "Mug & saucer" in email.body  # plain text is not HTML-escaped
    assert "Total: 53.99 USD" in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert "<strong>US-000123</strong>" in html
    assert "Mug &amp; saucer" in html  # ...but the HTML is
    assert email.extra_headers["X-Orderly-Notification"] == str(notification.pk)


def test_shipped_email_carries_carrier_tracking_and_items(
    order_context, django_capture_on_commit_callbacks
):
    context = {
        **order_context,
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": "https://track.example/1Z999AA10123456784?lang=en&x=1",
    }
    with django_capture_on_commit_callbacks(execute=True):
        notification_queue(
            recipient="ana@example.com", channel="email", template="order_shipped", context=context
        )

    [email] = mail.outbox
    assert email.subject == "Your order US-000123 has shipped"
    assert "Carrier: UPS" in email.body
    assert "Tracking number: 1Z999AA10123456784" in email.body
    assert "https://track.example/1Z999AA10123456784?lang=en&x=1" in email.body
    assert "1 × Mug & saucer (MUG-WHITE)" in email.body
    html = email.alternatives[0][0]
    assert 'href="https://track.example/1Z999AA10123456784?lang=en&amp;x=1"' in html


def test_sms_goes_to_the_configured_backend_in_e164(
    order_context, django_capture_on_commit_callbacks
):
    context = {**order_context, "carrier": "LBC", "tracking_number": "PH123"}
    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_queue(
            recipient="+1 415 555 0100", channel="sms", template="order_shipped", context=context
        )

    notification.refresh_from_db()
    assert notification.status == "sent"
    assert notification.recipient == "+14155550100"
    [sms] = LocmemSmsBackend.outbox
    assert sms.to == "+14155550100"
    assert sms.body == "Orderly: your order US-000123 has shipped with LBC. Tracking: PH123."
    assert mail.outbox == []


def test_console_sms_backend_prints(capsys):
    ConsoleSmsBackend().send("+14155550100", "hello")
    assert "SMS to +14155550100" in capsys.readouterr().out


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_with_a_full_or_an_empty_context(template, order_context):
    full = {
        **order_context,
        "reason": "Payment declined",
        "carrier": "UPS",
        "tracking_number": "1Z9",
        "tracking_url": "https://t.example/1Z9",
        "amount": "10.00",
        "return_number": "RMA-000001",
    }
    for context in (full, {}):
        email = render_message(template, "email", context)
        sms = render_message(template, "sms", context)
        assert email.subject and "\n" not in email.subject
        assert email.text.strip() and email.html.strip().startswith("<!doctype html>")
        assert sms.text and "\n" not in sms.text
    if template != "low_stock_report":  # a staff report, not about one order
        assert "US-000123" in render_message(template, "email", full).text


def test_low_stock_report_lists_the_skus():
    context = {
        "items": [
            {
                "sku": "MUG-WHITE",
                "name": "Mug",
                "warehouse": "WH-US",
                "available": 2,
                "on_hand": 5,
                "reserved": 3,
            }
        ]
    }
    rendered = render_message("low_stock_report", "email", context)
    assert rendered.subject == "Low stock report: 1 SKU running low"
    assert "- MUG-WHITE Mug @ WH-US: 2 available (on hand 5, reserved 3)" in rendered.text


def test_same_dedupe_key_gives_the_same_row_and_one_email(
    order_context, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = notification_queue(
            recipient="ana@example.com",
            channel="email",
            template="order_confirmed",
            context=order_context,
            dedupe_key="order:US-000123:confirmed",
        )
        second = notification_queue(
            recipient="ana@example.com",
            channel="email",
            template="order_confirmed",
            context=order_context,
            dedupe_key="order:US-000123:confirmed",
        )

    assert second.pk == first.pk
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    assert Notification.objects.count() == 1


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(
    order_context, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notification_queue(
            recipient="ana@example.com",
            channel="email",
            template="order_confirmed",
            context=order_context,
        )
        raise RuntimeError("the order could not be confirmed")

    assert mail.outbox == []
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("channel", "template", "code"),
    [("fax", "order_confirmed", "UNKNOWN_CHANNEL"), ("email", "no_such", "UNKNOWN_TEMPLATE")],
)
def test_unknown_channel_or_template_is_the_callers_error(channel, template, code):
    with pytest.raises(InvalidNotification) as error:
        notification_queue(
            recipient="ana@example.com", channel=channel, template=template, context={}
        )
    assert error.value.details[0]["code"] == code
    assert not Notification.objects.exists()


def test_template_names_cannot_escape_the_folder():
    with pytest.raises(InvalidNotification):
        notification_queue(
            recipient="ana@example.com", channel="email", template="../admin", context={}
        )


@pytest.mark.parametrize(
    ("channel", "recipient"), [("email", "not-an-address"), ("sms", "0917 123")]
)
def test_a_bad_recipient_is_stored_failed_without_breaking_the_caller(
    channel, recipient, order_context, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = notification_queue(
            recipient=recipient, channel=channel, template="order_confirmed", context=order_context
        )

    assert notification.status == "failed"
    assert recipient in notification.last_error
    assert callbacks == []
    assert mail.outbox == [] and LocmemSmsBackend.outbox == []


@pytest.mark.parametrize("batched", [True, False], ids=["one statement", "savepoint"])
def test_a_taken_key_leaves_the_callers_transaction_usable(order_context, monkeypatch, batched):
    """`core.sql.insert_unless_taken`: the duplicate is found without an error
    that would break the caller's transaction, on both of its paths."""
    if not batched:
        monkeypatch.setattr("core.sql._batched", lambda: False)

    def queue(recipient: str):
        return notification_queue(
            recipient=recipient,
            channel="email",
            template="order_confirmed",
            context=order_context,
            dedupe_key="order:US-000123:confirmed",
        )

    with transaction.atomic():
        bad = queue("not an address")  # stored `failed` before its insert
        again = queue("ana@example.com")
        assert again.pk == bad.pk and again.status == "failed"
        assert Notification.objects.count() == 1  # the transaction still answers
    bad.requeue(by=None, at=timezone.now())
    bad.save()  # the instance knows the state it was stored in (django-fsm)
    assert Notification.objects.get().status == "queued"
