"""Returns in the admin: read-only pages whose state changes only through
buttons and actions that call `returns.services` (domain errors become
messages). Steps that need input (reject: a reason; receive: what came back
and in what condition) ask for it on an intermediate page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin import ActionsOnlyAdminMixin, ReadOnlyAdminMixin
from core.errors import DomainError

from .models import Condition, ReturnEvent, ReturnLine, ReturnRequest, ReturnStatus
from .services import (
    ReceivedItemInput,
    return_approve,
    return_mark_in_transit,
    return_receive,
    return_reject,
    return_replace,
    return_request_refund,
    return_schedule_pickup,
)

CHANGE_PERM = "returns.change_returnrequest"
REFUND_PERM = "payments.add_refund"


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason (kept in the audit trail)", max_length=255)


def receive_form_class(rr: ReturnRequest) -> type[forms.Form]:
    """One pair of counts per line: resellable units and damaged units."""
    fields = {}
    for line in rr.lines.all():
        fields[f"resellable_{line.pk}"] = forms.IntegerField(
            label=f"{line.sku}: resellable (of {line.quantity})",
            min_value=0,
            max_value=line.quantity,
            initial=line.quantity,
        )
        fields[f"damaged_{line.pk}"] = forms.IntegerField(
            label=f"{line.sku}: damaged", min_value=0, max_value=line.quantity, initial=0
        )
    return type("ReceiveForm", (forms.Form,), fields)


def received_items(rr: ReturnRequest, data: dict) -> list[ReceivedItemInput]:
    items = []
    for line in rr.lines.all():
        for condition in (Condition.RESELLABLE, Condition.DAMAGED):
            units = data.get(f"{condition}_{line.pk}") or 0
            if units:
                items.append(ReceivedItemInput(line.sku, units, condition))
    return items


@dataclass(frozen=True)
class Step:
    verb: str
    perms: tuple[str, ...]
    call: Callable[[ReturnRequest, object, dict], object]
    form: Callable[[ReturnRequest], type[forms.Form]] | None = None


STEPS = {
    "approve": Step("Approve", (CHANGE_PERM,), lambda rr, u, d: return_approve(rr=rr, actor=u)),
    "reject": Step(
        "Reject",
        (CHANGE_PERM,),
        lambda rr, u, d: return_reject(rr=rr, actor=u, reason=d["reason"]),
        lambda rr: ReasonForm,
    ),
    "schedule_pickup": Step(
        "Schedule pickup", (CHANGE_PERM,), lambda rr, u, d: return_schedule_pickup(rr=rr, actor=u)
    ),
    "in_transit": Step(
        "Mark in transit", (CHANGE_PERM,), lambda rr, u, d: return_mark_in_transit(rr=rr, actor=u)
    ),
    "receive": Step(
        "Receive",
        (CHANGE_PERM,),
        lambda rr, u, d: return_receive(rr=rr, actor=u, items=received_items(rr, d)),
        receive_form_class,
    ),
    "refund": Step(
        "Refund",
        (CHANGE_PERM, REFUND_PERM),
        lambda rr, u, d: return_request_refund(rr=rr, actor=u),
    ),
    "replace": Step(
        "Retry replacement", (CHANGE_PERM,), lambda rr, u, d: return_replace(rr=rr, actor=u)
    ),
}


S = ReturnStatus
OFFERED_FROM = {
    "approve": [S.INITIATED],
    "reject": [S.INITIATED, S.APPROVED],
    "schedule_pickup": [S.APPROVED, S.PICKUP_SCHEDULED],
    "in_transit": [S.APPROVED, S.PICKUP_SCHEDULED],
    "receive": [S.PICKUP_SCHEDULED, S.IN_TRANSIT],
    "refund": [S.RECEIVED, S.PROCESSED],
    "replace": [S.RECEIVED],
}


def run_step(request, step: Step, returns, data: dict) -> None:
    """One service call (one transaction) per return: a refusal undoes only itself."""
    done = []
    for rr in returns:
        try:
            step.call(rr, request.user, data)
        except DomainError as exc:
            details = "; ".join(d["message"] for d in exc.details)
            messages.error(request, f"{rr}: {exc.message}" + (f" ({details})" if details else ""))
        else:
            done.append(str(rr))
    if done:
        messages.success(request, f"{step.verb}: {', '.join(done)}.")


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = readonly_fields = [
        "sku",
        "quantity",
        "replacement_product",
        "quantity_resellable",
        "quantity_damaged",
    ]


class ReturnEventInline(ReadOnlyInline):
    model = ReturnEvent
    verbose_name_plural = "History"
    fields = readonly_fields = ["at", "from_status", "to_status", "actor_name", "reason"]


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ActionsOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "status",
        "order",
        "customer",
        "reason",
        "resolution",
        "refund_amount",
        "created_at",
    ]
    list_filter = ["status", "reason", "resolution"]
    search_fields = ["number", "order__number", "customer__username", "lines__sku"]
    list_select_related = ["order", "customer"]
    date_hierarchy = "created_at"
    inlines = [ReturnLineInline, ReturnEventInline]
    actions = ["approve_selected", "schedule_pickup_selected", "refund_selected"]
    fieldsets = [
        (None, {"fields": ["number", "status", "order", "customer", "reason", "comment"]}),
        (
            "Handling",
            {
                "fields": [
                    "resolution",
                    "rejection_reason",
                    "pickup_at",
                    "carrier",
                    "tracking_number",
                    "replacement_order",
                    "replacement_error",
                ]
            },
        ),
        (
            "Refund",
            {
                "fields": [
                    "refund_goods",
                    "refund_shipping",
                    "refund_amount",
                    "refund_note",
                    "refund_error",
                    "refund",
                    "refund_requested_by",
                ]
            },
        ),
        (
            "Timestamps",
            {
                "classes": ["collapse"],
                "fields": [
                    "created_at",
                    "approved_at",
                    "rejected_at",
                    "cancelled_at",
                    "pickup_scheduled_at",
                    "in_transit_at",
                    "received_at",
                    "processed_at",
                    "refunded_at",
                ],
            },
        ),
    ]
    readonly_fields = [name for _, opts in fieldsets for name in opts["fields"]]

    # Returns are opened by customers through the API and moved by services;
    # a form save would write back a stale copy of a row the refund worker moves.

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        custom = [
            path(
                "<path:object_id>/step/<str:name>/",
                self.admin_site.admin_view(self.step_view),
                name=f"{info}_step",
            )
        ]
        return custom + super().get_urls()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["return_steps"] = [
                (name, step.verb, reverse("admin:returns_returnrequest_step", args=[obj.pk, name]))
                for name, step in STEPS.items()
                if request.user.has_perms(step.perms) and self._offered(obj, name)
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _offered(rr: ReturnRequest, name: str) -> bool:
        """Which buttons to show; the service still has the last word."""
        if name == "refund" and rr.replacement_order_id:
            return False
        if name == "replace" and not rr.replacement_error:
            return False
        return rr.status in OFFERED_FROM[name]

    def step_view(self, request, object_id: str, name: str):
        step = STEPS.get(name)
        if step is None or not request.user.has_perms(step.perms):
            raise PermissionDenied
        rr = self.get_object(request, unquote(object_id))
        if rr is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        change_url = reverse("admin:returns_returnrequest_change", args=[rr.pk])
        form_class = step.form(rr) if step.form else forms.Form
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            run_step(request, step, [rr], form.cleaned_data)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{step.verb} {rr.number}",
            "return_request": rr,
            "form": form,
            "verb": step.verb,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/returns/returnrequest/step.html", context)

    def _bulk(self, request, queryset, name: str) -> None:
        step = STEPS[name]
        if not request.user.has_perms(step.perms):
            raise PermissionDenied
        run_step(request, step, list(queryset.order_by("pk")), {})

    @admin.action(description="Approve selected returns", permissions=["change"])
    def approve_selected(self, request, queryset):
        self._bulk(request, queryset, "approve")

    @admin.action(description="Schedule pickup for selected returns", permissions=["change"])
    def schedule_pickup_selected(self, request, queryset):
        self._bulk(request, queryset, "schedule_pickup")

    @admin.action(description="Refund selected received returns", permissions=["change"])
    def refund_selected(self, request, queryset):
        self._bulk(request, queryset, "refund")
