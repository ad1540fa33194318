"""The list of holds, filterable by reason and by whether they are still
active. Holds are placed and released on the order's page or through the
`release` action here: both call the hold services, never a form save."""

from __future__ import annotations

from django.contrib import admin, messages

from core.admin_paging import LargeTableAdminMixin
from core.errors import DomainError

from .admin_views import can_review
from .models import Hold
from .services.holds import hold_release


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active"), ("no", "Released")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(released_at__isnull=False)
        return queryset


@admin.register(Hold)
class HoldAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "order",
        "shipment",
        "reason",
        "is_active",
        "note",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
    ]
    list_filter = ["reason", ActiveFilter, "order__market"]
    list_select_related = ["order", "shipment", "placed_by", "released_by"]
    search_fields = ["order__number", "shipment__number", "note"]
    date_hierarchy = "placed_at"
    actions = ["release_selected"]
    readonly_fields = [
        "order",
        "shipment",
        "reason",
        "note",
        "placed_by",
        "placed_at",
        "released_by",
        "released_at",
        "release_note",
    ]

    # Reviewers (orders.view_order) read the list; nobody edits a hold's row.
    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm(
            "orders.view_order"
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return can_review(request.user)

    @admin.display(description="Active", boolean=True, ordering="released_at")
    def is_active(self, obj):
        return obj.active

    @admin.action(description="Release selected holds", permissions=["review"])
    def release_selected(self, request, queryset):
        released = []
        for hold in queryset.filter(released_at__isnull=True).order_by("pk"):
            try:
                hold_release(hold_id=hold.pk, actor=request.user, note="released in the admin")
            except DomainError as exc:
                messages.error(request, f"Hold {hold.pk}: {exc.message}")
            else:
                released.append(f"{hold.reason} on {hold.order}")
        if released:
            messages.success(request, f"Released: {', '.join(released)}.")
