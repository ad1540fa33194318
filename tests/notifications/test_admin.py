"""The notifications console: failures are visible and retryable, deliveries
replayable, subscriptions editable with a write-only secret."""

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from notifications.models import Notification, WebhookDelivery, WebhookSubscription
from notifications.services import notification_queue, webhook_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_notification(flaky_email, order_context, settings, django_capture_on_commit_callbacks):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    with django_capture_on_commit_callbacks(execute=True):
        notification = notification_queue(
            recipient="ana@example.com",
            channel="email",
            template="order_confirmed",
            context=order_context,
            reference="US-000123",
        )
    notification.refresh_from_db()
    assert notification.status == "failed"
    return notification


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_failures_are_listed_filtered_and_searchable(admin_client, failed_notification):
    url = reverse("admin:notifications_notification_changelist")
    response = admin_client.get(url, {"status__exact": "failed"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    body = response.content.decode()
    assert "SMTP server refused the connection" in body  # last error, in the list
    assert admin_client.get(url, {"q": "US-000123"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"status__exact": "sent"}).context["cl"].result_count == 0


def test_notification_page_is_read_only_with_a_preview(admin_client, failed_notification):
    url = reverse("admin:notifications_notification_change", args=[failed_notification.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your order US-000123 is confirmed" in body  # rendered preview
    assert 'name="_save"' not in body and 'name="status"' not in body
    assert admin_client.post(url, {"recipient": "x@example.com"}).status_code == 403
    assert admin_client.get(reverse("admin:notifications_notification_add")).status_code == 403


def test_retry_selected_sends_a_failed_notification(
    admin_client, admin_user, failed_notification, flaky_email, django_capture_on_commit_callbacks
):
    flaky_email.failing = False
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:notifications_notification_changelist"),
            {"action": "retry_selected", "_selected_action": [failed_notification.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert "1 notification(s) queued again." in _messages(response)
    failed_notification.refresh_from_db()
    assert failed_notification.status == "sent"
    assert failed_notification.retried_by == admin_user
    assert len(mail.outbox) == 1


def test_retrying_a_sent_notification_is_refused_with_a_message(
    admin_client, order_context, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = notification_queue(
            recipient="ana@example.com",
            channel="email",
            template="order_confirmed",
            context=order_context,
        )
    response = admin_client.post(
        reverse("admin:notifications_notification_changelist"),
        {"action": "retry_selected", "_selected_action": [sent.pk]},
        follow=True,
    )
    [message] = _messages(response)
    assert "Only failed notifications can be retried" in message
    assert len(mail.outbox) == 1


def test_staff_without_the_change_permission_cannot_retry(client, failed_notification, flaky_email):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffFactory

    viewer = StaffFactory()
    viewer.user_permissions.set(Permission.objects.filter(codename="view_notification"))
    client.force_login(viewer)
    url = reverse("admin:notifications_notification_changelist")
    assert "retry_selected" not in client.get(url).content.decode()
    flaky_email.failing = False
    client.post(url, {"action": "retry_selected", "_selected_action": [failed_notification.pk]})
    failed_notification.refresh_from_db()
    assert failed_notification.status == "failed"


def test_replay_selected_posts_the_delivery_again(
    admin_client, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.statuses = [500]
    WebhookSubscription.objects.create(url=receiver.url, secret="s", events=["order.confirmed"])
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = webhook_publish(
            event="order.confirmed", payload={"number": "US-000123"}, dedupe_key="k"
        )
    delivery.refresh_from_db()
    assert delivery.status == "failed"

    page = admin_client.get(
        reverse("admin:notifications_webhookdelivery_change", args=[delivery.pk])
    )
    assert page.status_code == 200 and "HTTP 500" in page.content.decode()  # attempts inline

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:notifications_webhookdelivery_changelist"),
            {"action": "replay_selected", "_selected_action": [delivery.pk]},
            follow=True,
        )

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert len(receiver.requests) == 2
    assert delivery.log.count() == 2


def test_subscription_secret_is_generated_shown_once_then_masked(admin_client):
    response = admin_client.post(
        reverse("admin:notifications_webhooksubscription_add"),
        {
            "url": "https://erp.example.com/orderly",
            "description": "ERP",
            "events": "order.confirmed, order.shipped",
            "active": "on",
            "secret": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    assert subscription.events == ["order.confirmed", "order.shipped"]
    assert len(subscription.secret) >= 32
    assert any(subscription.secret in message for message in _messages(response))

    change_url = reverse("admin:notifications_webhooksubscription_change", args=[subscription.pk])
    page = admin_client.get(change_url).content.decode()
    assert subscription.secret not in page
    assert subscription.secret[-4:] in page  # masked: only the last four

    # Saving with the secret left blank keeps it; typing one replaces it.
    old = subscription.secret
    form = {"url": subscription.url, "description": "ERP", "events": "*", "active": "on"}
    admin_client.post(change_url, {**form, "secret": ""})
    subscription.refresh_from_db()
    assert (subscription.secret, subscription.events) == (old, ["*"])
    admin_client.post(change_url, {**form, "secret": "new-shared-secret"})
    subscription.refresh_from_db()
    assert subscription.secret == "new-shared-secret"


@pytest.mark.parametrize(
    ("url", "events"),
    [("ftp://erp.example.com/x", "order.shipped"), ("https://erp.example.com", "Order Shipped")],
)
def test_subscription_form_refuses_bad_urls_and_event_names(admin_client, url, events):
    response = admin_client.post(
        reverse("admin:notifications_webhooksubscription_add"),
        {"url": url, "events": events, "active": "on", "secret": "s"},
    )
    assert response.status_code == 200  # the form again, with errors
    assert not WebhookSubscription.objects.exists()


def test_lists_render(admin_client):
    for name in ("notification", "webhookdelivery", "webhooksubscription"):
        assert (
            admin_client.get(reverse(f"admin:notifications_{name}_changelist")).status_code == 200
        )
    assert (
        admin_client.get(reverse("admin:notifications_webhooksubscription_add")).status_code == 200
    )
    assert Notification.objects.count() == WebhookDelivery.objects.count() == 0
