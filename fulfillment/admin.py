"""Shipments in the admin: read-only records whose state changes only through
buttons and actions that call the services (a DomainError becomes a message),
plus the packing slip and per-warehouse pick list PDFs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from core.admin import ReadOnlyAdminMixin
from core.admin_paging import LargeTableAdminMixin
from core.errors import DomainError
from inventory.models import Warehouse
from orders.models import Order

from .admin_forms import OrderLookupForm, ShipForm, ShipmentCreateForm
from .documents import render_packing_slip, render_pick_list
from .models import Shipment, ShipmentLine, TrackingEvent
from .selectors import warehouses_with_open_shipments
from .services import (
    ShipmentItemInput,
    shipment_cancel,
    shipment_create,
    shipment_deliver,
    shipment_pack,
    shipment_retry_capture,
    shipment_ship,
)
from .services.creating import units_in_shipments

TEMPLATES = "fulfillment/admin/"


class ShipmentPartInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("fulfillment.view_shipment")


class ShipmentLineInline(ShipmentPartInline):
    model = ShipmentLine
    fields = readonly_fields = ["sku", "name", "quantity"]

    @admin.display(description="SKU")
    def sku(self, obj: ShipmentLine) -> str:
        return obj.order_line.sku

    @admin.display(description="item")
    def name(self, obj: ShipmentLine) -> str:
        return obj.order_line.name


class TrackingEventInline(ShipmentPartInline):
    model = TrackingEvent
    fields = readonly_fields = [
        "occurred_at",
        "status",
        "location",
        "description",
        "event_id",
        "outcome",
    ]


def run(request: HttpRequest, shipments, call, past: str) -> int:
    """Call the service once per shipment, each in its own transaction."""
    done = []
    for shipment in shipments:
        try:
            call(shipment)
        except DomainError as exc:
            messages.error(request, f"{shipment}: {exc.message}")
        else:
            done.append(str(shipment))
    if done:
        messages.success(request, f"{past.capitalize()}: {', '.join(done)}.")
    return len(done)


@admin.register(Shipment)
class ShipmentAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "order_link",
        "status",
        "warehouse",
        "carrier",
        "tracking_number",
        "created_at",
        "shipped_at",
        "payment_state",
    ]
    list_filter = ["status", "warehouse", "carrier"]
    search_fields = ["number", "order__number", "tracking_number"]
    list_select_related = ["order", "warehouse"]
    date_hierarchy = "created_at"
    inlines = [ShipmentLineInline, TrackingEventInline]
    actions = ["pack_selected", "deliver_selected", "cancel_selected"]
    change_form_template = TEMPLATES + "shipment_change_form.html"
    change_list_template = TEMPLATES + "shipment_change_list.html"
    fields = readonly_fields = [
        "number",
        "order_link",
        "status",
        "warehouse",
        "carrier",
        "tracking_number",
        "created_by",
        "created_at",
        "packed_by",
        "packed_at",
        "shipped_by",
        "shipped_at",
        "delivered_by",
        "delivered_at",
        "cancelled_by",
        "cancelled_at",
        "cancel_reason",
        "stock_moved_at",
        "capture_amount",
        "captured_at",
        "capture_error",
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # shipments are part of the order's record; cancel instead

    @admin.display(description="order", ordering="order__number")
    def order_link(self, obj: Shipment) -> str:
        url = reverse("admin:orders_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{}</a>', url, obj.order.number)

    @admin.display(description="payment")
    def payment_state(self, obj: Shipment) -> str:
        if obj.capture_error:
            return f"capture refused: {obj.capture_error}"
        if obj.captured_at:
            return f"captured {obj.capture_amount}"
        if obj.capture_amount is not None and not obj.capture_amount:
            return "nothing to capture"
        return ""

    # --- URLs --------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        custom = [
            path("pick-lists/", wrap(self.pick_lists_view), name=f"{info}_pick_lists"),
            path(
                "pick-lists/<str:code>.pdf",
                wrap(self.pick_list_pdf_view),
                name=f"{info}_pick_list_pdf",
            ),
            path(
                "<path:object_id>/packing-slip.pdf",
                wrap(self.packing_slip_view),
                name=f"{info}_packing_slip",
            ),
            path("<path:object_id>/ship/", wrap(self.ship_view), name=f"{info}_ship"),
        ]
        for name in ("pack", "deliver", "cancel", "retry_capture"):
            custom.append(
                path(
                    f"<path:object_id>/{name.replace('_', '-')}/",
                    wrap(require_POST(self.simple_action_view)),
                    {"action": name},
                    name=f"{info}_{name}",
                )
            )
        return custom + super().get_urls()

    def _change_url(self, shipment: Shipment) -> str:
        return reverse("admin:fulfillment_shipment_change", args=[shipment.pk])

    def _get(self, request, object_id: str) -> Shipment:
        shipment = self.get_object(request, unquote(object_id))
        if shipment is None:
            raise PermissionDenied  # no such shipment, or not visible to this user
        return shipment

    # --- the shipment page -------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        shipment = self.get_object(request, unquote(object_id))
        context = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        if shipment is not None:
            can_change = self.has_change_permission(request, shipment)
            context.update(
                {
                    "can_pack": can_change and can_proceed(shipment.pack),
                    "can_ship": can_change and can_proceed(shipment.ship),
                    "can_deliver": can_change and can_proceed(shipment.deliver),
                    "can_cancel": can_change and can_proceed(shipment.cancel),
                    "can_retry_capture": can_change and bool(shipment.capture_error),
                }
            )
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def simple_action_view(self, request: HttpRequest, object_id: str, action: str):
        # Refuse before reading the body: a forced POST without the permission changes nothing.
        if not self.has_change_permission(request):
            raise PermissionDenied
        shipment = self._get(request, object_id)
        calls = {
            "pack": (lambda s: shipment_pack(shipment=s, actor=request.user), "packed"),
            "deliver": (lambda s: shipment_deliver(shipment=s, actor=request.user), "delivered"),
            "cancel": (
                lambda s: shipment_cancel(
                    shipment=s,
                    actor=request.user,
                    reason=request.POST.get("reason", "").strip()[:255]
                    or f"cancelled by {request.user.get_username()}",
                ),
                "cancelled",
            ),
            "retry_capture": (
                lambda s: shipment_retry_capture(shipment=s, actor=request.user),
                "capture retried",
            ),
        }
        call, past = calls[action]
        run(request, [shipment], call, past)
        return HttpResponseRedirect(self._change_url(shipment))

    def ship_view(self, request: HttpRequest, object_id: str):
        if not self.has_change_permission(request):
            raise PermissionDenied
        shipment = self._get(request, object_id)
        form = ShipForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            done = run(
                request,
                [shipment],
                lambda s: shipment_ship(
                    shipment=s,
                    carrier=form.cleaned_data["carrier"],
                    tracking_number=form.cleaned_data["tracking_number"],
                    actor=request.user,
                ),
                "shipped",
            )
            if done:
                return HttpResponseRedirect(self._change_url(shipment))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Ship {shipment}",
            "shipment": shipment,
            "form": form,
        }
        return TemplateResponse(request, TEMPLATES + "shipment_ship.html", context)

    # --- creating: pick an order, then the units per line ------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        number = (request.POST.get("order") or request.GET.get("order") or "").strip()
        order = Order.objects.filter(number=number).first() if number else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Create shipment",
            "order": order,
        }
        if order is None:
            if number:
                messages.error(request, f"No order {number}.")
            context["lookup"] = OrderLookupForm(initial={"order": number})
            return TemplateResponse(request, TEMPLATES + "shipment_create.html", context)
        lines = list(order.lines.all())
        taken = units_in_shipments(order)
        remaining = {line.pk: line.quantity - taken.get(line.pk, 0) for line in lines}
        form = ShipmentCreateForm(
            request.POST if request.method == "POST" else None, lines=lines, remaining=remaining
        )
        if request.method == "POST" and form.is_valid():
            warehouse = form.cleaned_data["warehouse"]
            try:
                shipment = shipment_create(
                    order=order,
                    items=[ShipmentItemInput(sku, qty) for sku, qty in form.items()],
                    warehouse_code=warehouse.code if warehouse else None,
                    actor=request.user,
                )
            except DomainError as exc:
                messages.error(request, exc.message)
                for item in exc.details:
                    messages.error(request, item["message"])
            else:
                messages.success(request, f"Created {shipment} for {order}.")
                return HttpResponseRedirect(self._change_url(shipment))
        context["form"] = form
        return TemplateResponse(request, TEMPLATES + "shipment_create.html", context)

    # --- documents ---------------------------------------------------------------------

    def packing_slip_view(self, request: HttpRequest, object_id: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        shipment = self._get(request, object_id)
        return _pdf(render_packing_slip(shipment), f"packing-slip-{shipment.number}.pdf")

    def pick_lists_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Pick lists",
            "rows": warehouses_with_open_shipments(),
        }
        return TemplateResponse(request, TEMPLATES + "pick_lists.html", context)

    def pick_list_pdf_view(self, request: HttpRequest, code: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        warehouse = get_object_or_404(Warehouse, code=code)
        return _pdf(render_pick_list(warehouse), f"pick-list-{warehouse.code}.pdf")

    # --- bulk actions ------------------------------------------------------------------

    @admin.action(description="Pack selected shipments", permissions=["change"])
    def pack_selected(self, request, queryset):
        run(
            request,
            queryset.order_by("pk"),
            lambda s: shipment_pack(shipment=s, actor=request.user),
            "packed",
        )

    @admin.action(description="Mark selected shipments delivered", permissions=["change"])
    def deliver_selected(self, request, queryset):
        run(
            request,
            queryset.order_by("pk"),
            lambda s: shipment_deliver(shipment=s, actor=request.user),
            "delivered",
        )

    @admin.action(description="Cancel selected shipments", permissions=["change"])
    def cancel_selected(self, request, queryset):
        reason = f"cancelled by {request.user.get_username()}"
        run(
            request,
            queryset.order_by("pk"),
            lambda s: shipment_cancel(shipment=s, actor=request.user, reason=reason),
            "cancelled",
        )


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
