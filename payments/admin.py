"""Read-only views of payments, refunds and the gateway log. Money moves only through
the services (order, shipment and return screens call them), never by editing here."""

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from core.admin_paging import IndexedValuesFieldListFilter, LargeTableAdminMixin

from .models import GatewayCall, Payment, PaymentWebhookEvent, Refund


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    show_change_link = True


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "currency", "status", "source", "reason", "actor", "created_at")
    readonly_fields = fields


class GatewayCallInline(ReadOnlyInline):
    model = GatewayCall
    fields = ("operation", "amount", "ok", "status", "reference", "error", "attempts", "created_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(LargeTableAdminMixin, ReadOnlyAdmin):
    list_display = (
        "id",
        "order_number",
        "method",
        "gateway",
        "status",
        "amount",
        "amount_captured",
        "amount_refunded",
        "currency",
        "risk_score",
        "created_at",
    )
    # Gateways and currencies are listed by index probes, not SELECT DISTINCT.
    list_filter = (
        "status",
        ("gateway", IndexedValuesFieldListFilter),
        "method",
        ("currency", IndexedValuesFieldListFilter),
    )
    search_fields = ("order__number", "reference")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
    exclude = ("token",)
    inlines = (RefundInline, GatewayCallInline)

    @admin.display(description="order", ordering="order__number")
    def order_number(self, obj: Payment) -> str:
        return obj.order.number or f"#{obj.order_id}"


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "order_number",
        "amount",
        "currency",
        "status",
        "source",
        "reason",
        "actor",
        "created_at",
    )
    list_filter = ("status", "currency")
    search_fields = ("payment__order__number", "reference", "idempotency_key", "source")
    list_select_related = ("payment__order", "actor")

    @admin.display(description="order", ordering="payment__order__number")
    def order_number(self, obj: Refund) -> str:
        return obj.payment.order.number or f"#{obj.payment.order_id}"


@admin.register(GatewayCall)
class GatewayCallAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "gateway",
        "operation",
        "payment",
        "amount",
        "ok",
        "status",
        "attempts",
        "idempotency_key",
    )
    list_filter = ("gateway", "operation", "ok")
    search_fields = ("idempotency_key", "reference", "payment__order__number")


@admin.register(PaymentWebhookEvent)
class PaymentWebhookEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "gateway", "event_id", "type", "reference", "outcome")
    list_filter = ("gateway", "type", "outcome")
    search_fields = ("event_id", "reference")
