"""The notifications console. Notifications and deliveries are read-only logs whose
state changes only through the "Retry" / "Replay" actions, which call the services;
webhook subscriptions are configuration, editable here."""

from __future__ import annotations

import json
import secrets

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError

from .models import (
    Notification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
    validate_events,
)
from .rendering import render_message
from .services import notification_retry, webhook_replay


class LogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows written by services only: viewable, never added, edited or deleted here.
    The actions need the model's "change" permission."""

    def has_act_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def run_bulk(self, request, queryset, call, done_message: str) -> None:
        done = 0
        for obj in queryset.order_by("pk"):
            try:
                call(obj.pk, request.user)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message.format(count=done), messages.SUCCESS)


def _pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def _short(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


@admin.register(Notification)
class NotificationAdmin(LogAdmin):
    list_display = (
        "id",
        "created_at",
        "status",
        "channel",
        "template",
        "recipient",
        "reference",
        "attempts",
        "next_attempt_at",
        "error",
    )
    list_filter = ("status", "channel", "template")
    search_fields = ("recipient", "reference", "dedupe_key")
    date_hierarchy = "created_at"
    actions = ("retry_selected",)
    exclude = ("context",)
    readonly_fields = ("context_json", "preview")

    @admin.display(description="last error")
    def error(self, obj: Notification) -> str:
        return _short(obj.last_error)

    @admin.display(description="context")
    def context_json(self, obj: Notification) -> str:
        return _pretty_json(obj.context)

    @admin.display(description="preview")
    def preview(self, obj: Notification) -> str:
        try:
            message = render_message(obj.template, obj.channel, obj.context)
        except Exception as exc:  # a broken template must not break the admin page
            return f"Cannot render: {type(exc).__name__}: {exc}"
        text = f"{message.subject}\n\n{message.text}" if message.subject else message.text
        if not message.html:
            return format_html("<pre>{}</pre>", text)
        # Sandboxed: the HTML is shown, never allowed to run anything.
        return format_html(
            '<pre>{}</pre><iframe sandbox srcdoc="{}" style="width:100%;height:420px;'
            'border:1px solid #ccc"></iframe>',
            text,
            message.html,
        )

    @admin.action(description="Retry selected failed notifications", permissions=["act"])
    def retry_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda pk, user: notification_retry(notification_id=pk, actor=user),
            "{count} notification(s) queued again.",
        )


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = ("at", "url", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LogAdmin):
    list_display = (
        "id",
        "created_at",
        "event",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "error",
    )
    list_filter = ("status", "event", "subscription")
    search_fields = ("dedupe_key", "event", "subscription__url")
    list_select_related = ("subscription",)
    date_hierarchy = "created_at"
    actions = ("replay_selected",)
    exclude = ("payload",)
    readonly_fields = ("payload_json",)
    inlines = (WebhookAttemptInline,)

    @admin.display(description="last error")
    def error(self, obj: WebhookDelivery) -> str:
        return _short(obj.last_error)

    @admin.display(description="payload")
    def payload_json(self, obj: WebhookDelivery) -> str:
        return _pretty_json(obj.payload)

    @admin.action(description="Replay selected deliveries", permissions=["act"])
    def replay_selected(self, request, queryset):
        self.run_bulk(
            request,
            queryset,
            lambda pk, user: webhook_replay(delivery_id=pk, actor=user),
            "{count} deliver(y/ies) sent again.",
        )


class WebhookSubscriptionForm(forms.ModelForm):
    """The secret is write-only: never rendered back into the page. Blank keeps the
    current one (or, for a new subscription, generates one, shown once)."""

    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="Where events are POSTed (http or https).",
        widget=forms.URLInput(attrs={"size": 80}),
    )
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the current secret (or to generate one).",
    )
    events = forms.CharField(
        help_text='Comma-separated, e.g. "order.confirmed, order.shipped"; "*" for all.',
        widget=forms.TextInput(attrs={"size": 80}),
    )

    class Meta:
        model = WebhookSubscription
        fields = ("url", "description", "events", "active", "secret")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.generated_secret = ""
        if self.instance.pk:
            self.initial["events"] = ", ".join(self.instance.events)

    def clean_events(self) -> list[str]:
        events = [part.strip() for part in self.cleaned_data["events"].split(",") if part.strip()]
        try:
            validate_events(events)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return events

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if secret:
            return secret
        if self.instance.secret:
            return self.instance.secret
        self.generated_secret = secrets.token_urlsafe(32)
        return self.generated_secret


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("id", "url", "description", "event_list", "active", "masked_secret")
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = ("masked_secret", "created_at")

    @admin.display(description="events")
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events)

    @admin.display(description="secret")
    def masked_secret(self, obj: WebhookSubscription) -> str:
        if not obj.secret:
            return "—"
        return f"••••••••{obj.secret[-4:]}" if len(obj.secret) > 8 else "••••••••"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.generated_secret:
            self.message_user(
                request,
                f"Signing secret for {obj.url}: {form.generated_secret} "
                "(shown once; give it to the integrator now).",
                messages.WARNING,
            )
