"""Processing errors and step timings in the admin.

Errors are read-only records; the only change is resolving them (who, when, a
note), through the "Resolve selected errors" action or the Resolve button of an
error's page, both of which call `operations.services.error_resolve`. The list
opens on the unresolved ones. `ProcessingErrorInline` shows an order's own errors
on the order's page (the orders admin adds it to its inlines).
"""

from __future__ import annotations

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from core.admin import ActionsOnlyAdminMixin, ReadOnlyAdminMixin
from core.admin_paging import IndexedValuesFieldListFilter, LargeTableAdminMixin
from core.errors import DomainError

from .models import ProcessingError, StepTiming, TimingStep
from .selectors import timing_percentiles
from .services import error_resolve

RESOLVE_TEMPLATE = "admin/operations/processingerror/resolve.html"


class ResolveForm(forms.Form):
    note = forms.CharField(
        label="Resolution note",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=2000,
        help_text="What was done about it (kept with the error, with your name and the time).",
    )

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("A note is required.")
        return note


class ResolvedFilter(admin.SimpleListFilter):
    """Resolved: No (the default), Yes or All."""

    title = "resolved"
    parameter_name = "resolved"
    DEFAULT = "no"

    def lookups(self, request, model_admin):
        return [("no", "No"), ("yes", "Yes"), ("all", "All")]

    def value(self):
        return super().value() or self.DEFAULT

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == "no":
            return queryset.filter(resolved=False)
        if value == "yes":
            return queryset.filter(resolved=True)
        return queryset


def order_link(obj) -> str:
    """The order's number linking to its admin page; "—" without an order."""
    if not obj.order_id:
        return "—"
    try:
        label = obj.order.number if obj.order is not None else None
    except ObjectDoesNotExist:  # recorded for an order whose transaction rolled back
        label = None
    label = label or f"#{obj.order_id}"
    try:
        url = reverse("admin:orders_order_change", args=[obj.order_id])
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


def step_label(step: str) -> str:
    try:
        return TimingStep(step).label
    except ValueError:
        return step.replace("_", " ")


def format_ms(ms: float | None) -> str:
    """850 ms, 1.2 s, 12 min 5 s, 3 h 12 min, 2 d 4 h."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


ERROR_FIELDS = (
    "category",
    "severity",
    "step",
    "order_display",
    "reference",
    "message",
    "details_display",
    "attempts",
    "first_seen_at",
    "last_seen_at",
    "resolved",
    "resolved_by",
    "resolved_at",
    "resolution_note",
)


@admin.register(ProcessingError)
class ProcessingErrorAdmin(ActionsOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "last_seen_at",
        "severity",
        "category",
        "step",
        "order_display",
        "reference",
        "message_excerpt",
        "attempts",
        "resolved",
    )
    list_display_links = ("last_seen_at", "message_excerpt")
    list_filter = (ResolvedFilter, "category", "severity", "step")
    search_fields = ("reference", "message", "order__number")
    list_select_related = ("order", "resolved_by")
    date_hierarchy = "last_seen_at"
    actions = ["resolve_selected"]
    fields = readonly_fields = ERROR_FIELDS
    change_form_template = "admin/operations/processingerror/change_form.html"

    # Written by services only; an error's page is view-only and resolving goes
    # through error_resolve (the action and the Resolve button).

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "resolved_by")

    # --- display helpers ---

    @admin.display(description="order", ordering="order__number")
    def order_display(self, obj):
        return order_link(obj)

    @admin.display(description="message")
    def message_excerpt(self, obj):
        return Truncator(obj.message).chars(120)

    @admin.display(description="details")
    def details_display(self, obj):
        if not obj.details:
            return "—"
        text = json.dumps(obj.details, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="processing-error-details">{}</pre>', text)

    # --- resolving ---

    @admin.action(description="Resolve selected errors…", permissions=["change"])
    def resolve_selected(self, request, queryset):
        open_errors = queryset.filter(resolved=False).select_related("order")
        if not open_errors.exists():
            self.message_user(request, "The selected errors are already resolved.", messages.INFO)
            return None
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            resolved = self._resolve(
                request, [e.pk for e in open_errors], form.cleaned_data["note"]
            )
            self.message_user(
                request,
                f"Resolved {resolved} error{'s' if resolved != 1 else ''}.",
                messages.SUCCESS,
            )
            return None
        return self._render_resolve_page(
            request, errors=open_errors, form=form, action="resolve_selected"
        )

    def resolve_view(self, request, object_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        error = ProcessingError.objects.select_related("order").filter(pk=object_id).first()
        if error is None:
            raise Http404("No such processing error.")
        change_url = reverse("admin:operations_processingerror_change", args=[error.pk])
        if error.resolved:
            self.message_user(request, "This error is already resolved.", messages.INFO)
            return HttpResponseRedirect(change_url)
        form = ResolveForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            if self._resolve(request, [error.pk], form.cleaned_data["note"]):
                self.message_user(request, "The error is resolved.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return self._render_resolve_page(request, errors=[error], form=form, action=None)

    def _resolve(self, request, error_ids: list[int], note: str) -> int:
        resolved = 0
        for error_id in error_ids:
            try:
                error_resolve(error_id=error_id, actor=request.user, note=note)
            except DomainError as exc:
                self.message_user(request, f"Error #{error_id}: {exc.message}", messages.ERROR)
            else:
                resolved += 1
        return resolved

    def _render_resolve_page(self, request, *, errors, form, action):
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": "Resolve processing errors",
            "opts": opts,
            "app_label": opts.app_label,
            "errors": errors,
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, RESOLVE_TEMPLATE, context)

    def get_urls(self):
        resolve = self.admin_site.admin_view(self.resolve_view)
        return [
            path("<path:object_id>/resolve/", resolve, name="operations_processingerror_resolve"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_resolve"] = (
            obj is not None and not obj.resolved and self.has_change_permission(request)
        )
        return super().render_change_form(request, context, add, change, form_url, obj)


class ProcessingErrorInline(ReadOnlyAdminMixin, admin.TabularInline):
    """An order's own processing errors, open ones first, read-only. Whoever may
    see the order sees them."""

    model = ProcessingError
    fk_name = "order"
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = "processing error"
    verbose_name_plural = "Processing errors"
    fields = readonly_fields = (
        "last_seen_at",
        "severity",
        "category",
        "step",
        "reference",
        "message_excerpt",
        "attempts",
        "resolved",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    )
    ordering = ("resolved", "-last_seen_at", "-id")

    def has_view_permission(self, request, obj=None):
        user = request.user
        return (
            super().has_view_permission(request, obj)
            or user.has_perm("orders.view_order")
            or user.has_perm("orders.change_order")
        )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("resolved_by")

    @admin.display(description="message")
    def message_excerpt(self, obj):
        return Truncator(obj.message).chars(200)


@admin.register(StepTiming)
class StepTimingAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Step timings, read-only, with their percentiles over the last day and week."""

    list_display = ("recorded_at", "order_display", "step", "duration", "milliseconds")
    list_filter = (("step", IndexedValuesFieldListFilter),)
    search_fields = ("order__number",)
    list_select_related = ("order",)
    date_hierarchy = "recorded_at"
    change_list_template = "admin/operations/steptiming/change_list.html"
    PERCENTILE_WINDOWS = (("Last 24 hours", 1), ("Last 7 days", 7))

    @admin.display(description="order", ordering="order__number")
    def order_display(self, obj):
        return order_link(obj)

    @admin.display(description="duration", ordering="milliseconds")
    def duration(self, obj):
        return format_ms(obj.milliseconds)

    def changelist_view(self, request, extra_context=None):
        now = timezone.now()
        windows = []
        for title, days in self.PERCENTILE_WINDOWS:
            stats = timing_percentiles(since=now - timedelta(days=days), until=now)
            rows = [
                {
                    "step": step_label(step),
                    "count": values["count"],
                    **{key: format_ms(values[key]) for key in ("p50", "p90", "p99")},
                }
                for step, values in stats.items()
            ]
            windows.append({"title": title, "rows": rows})
        context = {**(extra_context or {}), "percentile_windows": windows}
        return super().changelist_view(request, context)
