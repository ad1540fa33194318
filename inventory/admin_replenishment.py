"""Replenishment in the admin: suppliers and reorder points are configuration,
editable here; a purchase order is editable while it is a draft, and moves only
through buttons and actions ("Mark ordered", "Receive all remaining", "Cancel")
that call `inventory.replenishment` (a DomainError becomes a message). Its status
is never a form field."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django_fsm import can_proceed

from core.errors import DomainError

from .models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus, ReorderPoint, Supplier
from .replenishment import (
    purchase_order_assign_number,
    purchase_order_cancel,
    purchase_order_mark_ordered,
    purchase_order_receive,
    purchase_order_remaining,
)

TEMPLATES = "inventory/admin/"


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "lead_time_days", "active"]
    list_filter = ["active"]
    search_fields = ["name", "email"]


@admin.register(ReorderPoint)
class ReorderPointAdmin(admin.ModelAdmin):
    list_display = ["product", "warehouse", "reorder_level", "reorder_quantity", "supplier"]
    list_filter = ["warehouse", "supplier"]
    search_fields = ["product__sku", "product__name", "supplier__name"]
    list_select_related = ["product", "warehouse", "supplier"]
    autocomplete_fields = ["product"]


def _is_draft(po: PurchaseOrder | None) -> bool:
    return po is None or po.status == PurchaseOrderStatus.DRAFT


class PurchaseOrderLineInline(admin.TabularInline):
    """Lines are edited while the purchase order is a draft; after that they
    only show what was ordered and received."""

    model = PurchaseOrderLine
    extra = 0
    fields = ["product", "quantity_ordered", "quantity_received"]
    readonly_fields = ["quantity_received"]
    autocomplete_fields = ["product"]

    def get_readonly_fields(self, request, obj=None):
        if _is_draft(obj):
            return self.readonly_fields
        return self.fields

    def has_add_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)


def run(request: HttpRequest, pos: Iterable[PurchaseOrder], call: Callable, past: str) -> int:
    """Call the service once per purchase order, each in its own transaction."""
    done = []
    for po in pos:
        try:
            call(po)
        except DomainError as exc:
            problems = "; ".join(d["message"] for d in exc.details)
            messages.error(request, f"{po}: {exc.message}" + (f" ({problems})" if problems else ""))
        else:
            done.append(str(po))
    if done:
        messages.success(request, f"{past.capitalize()}: {', '.join(done)}.")
    return len(done)


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "supplier",
        "warehouse",
        "status",
        "created_at",
        "ordered_at",
        "received_at",
    ]
    list_filter = ["status", "warehouse", "supplier"]
    search_fields = ["number", "supplier__name", "lines__product__sku"]
    list_select_related = ["supplier", "warehouse"]
    date_hierarchy = "created_at"
    inlines = [PurchaseOrderLineInline]
    actions = ["mark_ordered_selected", "receive_remaining_selected", "cancel_selected"]
    change_form_template = TEMPLATES + "purchase_order_change_form.html"
    fields = [
        "number",
        "status",
        "supplier",
        "warehouse",
        "notes",
        "created_by",
        "created_at",
        "ordered_at",
        "received_at",
        "cancelled_at",
        "cancel_reason",
    ]
    editable_when_draft = ["supplier", "warehouse", "notes"]

    def get_readonly_fields(self, request, obj=None):
        if _is_draft(obj):
            return [name for name in self.fields if name not in self.editable_when_draft]
        return self.fields

    def has_delete_permission(self, request, obj=None):
        return False  # kept for the record; cancel instead

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        purchase_order_assign_number(po=obj)

    # --- buttons ---------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        custom = [
            path(
                f"<path:object_id>/{name.replace('_', '-')}/",
                wrap(self.action_view),
                {"action": name},
                name=f"{info}_{name}",
            )
            for name in ("mark_ordered", "receive_remaining", "cancel")
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        po = self.get_object(request, unquote(object_id))
        context = {"show_delete": False}
        if po is not None:
            can_change = self.has_change_permission(request, po)
            if not _is_draft(po):
                context.update({"show_save": False, "show_save_and_continue": False})
            context.update(
                {
                    "can_mark_ordered": can_change and can_proceed(po.mark_ordered),
                    "can_receive": can_change and can_proceed(po.receive),
                    "can_cancel": can_change and can_proceed(po.cancel),
                }
            )
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def _calls(self, request) -> dict[str, tuple[Callable, str]]:
        user = request.user
        reason = request.POST.get("reason", "").strip()[:255] or f"cancelled by {user}"
        return {
            "mark_ordered": (
                lambda po: purchase_order_mark_ordered(po=po, actor=user),
                "marked ordered",
            ),
            "receive_remaining": (
                lambda po: purchase_order_receive(
                    po=po, lines=purchase_order_remaining(po), actor=user
                ),
                "received",
            ),
            "cancel": (
                lambda po: purchase_order_cancel(po=po, actor=user, reason=reason),
                "cancelled",
            ),
        }

    def action_view(self, request: HttpRequest, object_id: str, action: str):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:inventory_purchaseorder_changelist"))
        if not self.has_change_permission(request):
            raise PermissionDenied
        po = self.get_object(request, unquote(object_id))
        if po is None:
            raise PermissionDenied
        call, past = self._calls(request)[action]
        run(request, [po], call, past)
        return HttpResponseRedirect(reverse("admin:inventory_purchaseorder_change", args=[po.pk]))

    # --- bulk actions ----------------------------------------------------------------

    @admin.action(description="Mark selected purchase orders ordered", permissions=["change"])
    def mark_ordered_selected(self, request, queryset):
        call, past = self._calls(request)["mark_ordered"]
        run(request, queryset.order_by("pk"), call, past)

    @admin.action(
        description="Receive all remaining units of selected purchase orders",
        permissions=["change"],
    )
    def receive_remaining_selected(self, request, queryset):
        call, past = self._calls(request)["receive_remaining"]
        run(request, queryset.order_by("pk"), call, past)

    @admin.action(description="Cancel selected purchase orders", permissions=["change"])
    def cancel_selected(self, request, queryset):
        call, past = self._calls(request)["cancel"]
        run(request, queryset.order_by("pk"), call, past)
