"""Orders in the admin. Markets and promo codes are configuration, editable
here; orders are read-only pages whose state changes only through the review
console's buttons and actions (orders/admin_views.py), which call services."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import ActionsOnlyAdminMixin, ReadOnlyAdminMixin
from core.admin_paging import LargeTableAdminMixin
from operations.admin import ProcessingErrorInline
from payments.models import PaymentStatus

from .admin_search import order_search
from .admin_views import (
    ReviewConsoleMixin,
    ReviewState,
    customer_history_text,
    with_customer_history,
)
from .models import (
    CustomerProfile,
    IdempotencyRecord,
    Market,
    Order,
    OrderEdit,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PromoCode,
    PromoRedemption,
    ShippingMethod,
)

PAYMENT_FIELDS = [
    "gateway",
    "method",
    "status",
    "currency",
    "amount",
    "amount_authorized",
    "amount_captured",
    "amount_refunded",
    "reference",
    "risk_score",
    "decline_code",
    "failure_message",
]


class ShippingMethodInline(admin.TabularInline):
    model = ShippingMethod
    extra = 0


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "currency", "country", "tax_rate", "review_amount", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    inlines = [ShippingMethodInline]


@admin.register(PromoCode)
class PromoCodeAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "kind",
        "value",
        "market",
        "times_used",
        "max_uses",
        "valid_to",
        "active",
    ]
    list_filter = ["active", "kind", "market"]
    search_fields = ["code"]
    readonly_fields = ["times_used"]  # counted by order placing under a row lock


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "tax_exempt", "trusted"]
    list_filter = ["tax_exempt", "trusted"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer", "key", "response_status", "created_at"]
    search_fields = ["key", "customer__username"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"


@admin.register(PromoRedemption)
class PromoRedemptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["promo", "order", "customer", "created_at"]
    list_filter = ["promo"]
    search_fields = ["promo__code", "order__number", "customer__username"]
    list_select_related = ["promo", "order", "customer"]


class OrderPartInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Lines and events are part of the order: whoever may see the order sees
    them, without needing separate model permissions."""

    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("orders.view_order") or request.user.has_perm(
            "orders.change_order"
        )


class OrderLineInline(OrderPartInline):
    model = OrderLine
    fields = readonly_fields = [
        "sku",
        "name",
        "quantity",
        "unit_price",
        "line_total",
        "quantity_shipped",
        "quantity_cancelled",
        "quantity_returned",
    ]


class OrderEventInline(OrderPartInline):
    model = OrderEvent
    verbose_name = "history entry"
    verbose_name_plural = "History and notes"
    fields = readonly_fields = ["at", "from_status", "to_status", "actor_name", "reason"]


class OrderEditInline(OrderPartInline):
    """Staged edits (made through the API): open ones and what committed ones changed."""

    model = OrderEdit
    verbose_name_plural = "Edits"
    fields = readonly_fields = [
        "status",
        "created_by",
        "created_at",
        "lines",
        "shipping_address",
        "committed_at",
        "discarded_at",
        "diff",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


class PaymentStatusFilter(admin.SimpleListFilter):
    """The payment statuses the order mirrors, listed without reading the orders
    (Django's filter for a plain field runs SELECT DISTINCT over the whole table)."""

    title = "payment status"
    parameter_name = "payment_status__exact"

    def lookups(self, request, model_admin):
        return PaymentStatus.choices

    def queryset(self, request, queryset):
        return queryset.filter(payment_status=self.value()) if self.value() else queryset


@admin.register(Order)
class OrderAdmin(LargeTableAdminMixin, ReviewConsoleMixin, ActionsOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "status",
        "market",
        "total_display",
        "payment_status",
        "risk_score",
        "created_at",
        "review_info",
    ]
    list_filter = ["status", "market", PaymentStatusFilter, "source"]
    # What the search box matches; get_search_results searches them (orders/admin_search.py).
    search_fields = ["number", "customer__username", "customer__email", "lines__sku"]
    list_select_related = ["market", "reviewer"]
    # LargeTableAdminMixin: no COUNT(*) over every order per page (no "N total"
    # link, estimated page count) and a date hierarchy read from the index.
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, OrderEditInline, OrderEventInline, ProcessingErrorInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "status",
                    "market",
                    "customer",
                    "customer_history",
                    "source",
                    "channel",
                    "created_at",
                ]
            },
        ),
        (
            "Review",
            {
                "fields": [
                    "risk_score",
                    "risk_reasons_list",
                    "held_at",
                    "time_in_queue",
                    "reviewer",
                    "claimed_at",
                    "confirmed_at",
                    "cancelled_at",
                    "cancel_reason",
                ]
            },
        ),
        (
            "Money",
            {
                "fields": [
                    "currency",
                    "subtotal",
                    "discount",
                    "promo_code",
                    "shipping",
                    "tax",
                    "tax_rate",
                    "prices_include_tax",
                    "tax_exempt",
                    "total",
                ]
            },
        ),
        ("Payment", {"fields": ["payment_method", "payment_status", "payment_summary"]}),
        ("Shipping", {"fields": ["shipping_method", "shipping_address_lines"]}),
        ("Client", {"classes": ["collapse"], "fields": ["client_ip", "user_agent", "updated_at"]}),
    ]
    readonly_fields = [name for _, opts in fieldsets for name in opts["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("market", "customer", "reviewer")

    # Orders are placed through the API and kept for the audit trail; a form
    # save would write back a stale copy of a row that workers also move
    # (status, payment_status), so an order's page is always view-only and
    # every change goes through an action that calls a service.

    def get_search_results(self, request, queryset, search_term):
        # One indexed lookup per field instead of Django's OR over joined tables;
        # the result has no duplicates, so the changelist needs no DISTINCT/EXISTS.
        return order_search(queryset, search_term), False

    def changelist_view(self, request, extra_context=None):
        held = Order.objects.filter(status=OrderStatus.ON_HOLD).count()
        return super().changelist_view(request, {**(extra_context or {}), "held_count": held})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(self.review_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- display helpers ---

    @admin.display(description="Total", ordering="total")
    def total_display(self, obj):
        return f"{obj.total} {obj.currency}"

    @admin.display(description="Review")
    def review_info(self, obj):
        if obj.status != OrderStatus.ON_HOLD:
            return ""
        state = ReviewState(obj, None, timezone.now())
        text = f"waiting {state.time_in_queue}"
        if obj.reviewer_id:
            text += f", claimed by {obj.reviewer.get_username()}"
        if state.overdue:
            return format_html('<strong class="review-overdue">{} (past SLA)</strong>', text)
        return text

    @admin.display(description="Time in queue")
    def time_in_queue(self, obj):
        state = ReviewState(obj, None, timezone.now())
        if not state.time_in_queue:
            return "—"
        if state.overdue:
            return format_html("<strong>{} — past the review SLA</strong>", state.time_in_queue)
        return state.time_in_queue

    @admin.display(description="Risk reasons")
    def risk_reasons_list(self, obj):
        reasons = [r for r in obj.risk_reasons or [] if isinstance(r, dict)]
        if not reasons:
            return "—"
        items = format_html_join(
            "",
            "<li><strong>+{}</strong> {}{}</li>",
            (
                (
                    r.get("points", 0),
                    r.get("reason") or r.get("rule", ""),
                    " (always holds)" if r.get("always_hold") else "",
                )
                for r in reasons
            ),
        )
        return format_html('<ul class="risk-reasons">{}</ul>', items)

    @admin.display(description="Customer history")
    def customer_history(self, obj):
        annotated = (
            with_customer_history(Order.objects.filter(pk=obj.pk))
            .select_related("customer", "customer__profile")
            .first()
        )
        return customer_history_text(annotated, timezone.now()) if annotated else "—"

    @admin.display(description="Shipping address")
    def shipping_address_lines(self, obj):
        address = obj.shipping_address if isinstance(obj.shipping_address, dict) else {}
        keys = ["name", "phone", "line1", "line2", "city", "region", "postal_code", "country"]
        known = [str(address[k]) for k in keys if address.get(k)]
        extra = [f"{k}: {v}" for k, v in address.items() if k not in keys and v]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in known + extra))

    @admin.display(description="Payment record")
    def payment_summary(self, obj):
        payment = getattr(obj, "payment", None)  # OneToOne from payments.Payment
        if payment is None:
            return "—"
        # Show whichever of the usual fields the Payment model has, skipping blanks.
        names = {f.name for f in payment._meta.get_fields()}
        rows = [
            (name.replace("_", " "), getattr(payment, name))
            for name in PAYMENT_FIELDS
            if name in names and getattr(payment, name) not in (None, "")
        ]
        return format_html(
            '<table class="payment-summary">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )


from . import admin_holds  # noqa: E402, F401  (the Hold list)
from .channels import admin as channels_admin  # noqa: E402, F401
