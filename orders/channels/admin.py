"""Channel imports in the admin: what each channel sent (read-only), why it is
held or failed, and "Replay selected", which calls `channel_order_replay`."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.admin import NoAddDeleteMixin
from core.errors import DomainError

from ..models import ChannelOrder, ChannelOrderStatus
from .services import channel_order_replay


def _pretty(value) -> str:
    if value in (None, "", []):
        return "—"
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True),
    )


@admin.register(ChannelOrder)
class ChannelOrderAdmin(NoAddDeleteMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "channel",
        "external_id",
        "status",
        "reason",
        "order_link",
        "flagged_prices",
        "attempts",
        "last_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "reason", "channel"]
    search_fields = ["external_id", "order__number"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    actions = ["replay_selected"]
    fields = readonly_fields = [
        "channel",
        "external_id",
        "status",
        "reason",
        "message",
        "errors_display",
        "order_link",
        "price_differences_display",
        "attempts",
        "last_attempt_at",
        "imported_at",
        "created_at",
        "updated_at",
        "raw_payload_display",
        "raw_body",
    ]

    @admin.display(description="Order", ordering="order__number")
    def order_link(self, obj):
        if obj.order_id is None:
            return "—"
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order.number)

    @admin.display(description="Price differences", boolean=True)
    def flagged_prices(self, obj):
        return bool(obj.price_differences)

    @admin.display(description="Errors")
    def errors_display(self, obj):
        return _pretty(obj.errors)

    @admin.display(description="Price differences (channel vs ours)")
    def price_differences_display(self, obj):
        return _pretty(obj.price_differences)

    @admin.display(description="Raw payload")
    def raw_payload_display(self, obj):
        return _pretty(obj.raw_payload)

    @admin.action(description="Replay selected channel orders", permissions=["change"])
    def replay_selected(self, request, queryset):
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                row = channel_order_replay(channel_order_id=pk, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"#{pk}: {exc.message}", messages.ERROR)
                continue
            if row.status == ChannelOrderStatus.IMPORTED:
                verb = "imported as" if row.imported_now else "was already imported as"
                self.message_user(request, f"{row} {verb} {row.order.number}.", messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    f"{row} is still {row.status}: {row.reason} ({row.message})",
                    messages.WARNING,
                )
