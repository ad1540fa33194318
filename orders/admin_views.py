"""The review console: the queue of held orders, and the pages that ask for a
note or reason before an approve, reject or cancel.

Business rules stay in `orders.services`; this module only checks admin
permissions, calls a service and turns a DomainError into an admin message.
`ReviewConsoleMixin` is mixed into `OrderAdmin` (orders/admin.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from core.errors import DomainError

from .models import Hold, HoldReason, Order, OrderStatus
from .services import order_cancel
from .services.confirming import order_approve, order_claim, order_reject
from .services.events import order_note_add
from .services.holds import hold_place, hold_release

REVIEW_PERM = "orders.review_order"
CANCEL_PERM = "orders.change_order"
QUEUE_PAGE_SIZE = 100
# Delivered orders later returned were still delivered: they count as history kept.
DELIVERED = [OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED]


def can_review(user) -> bool:
    return user.has_perm(REVIEW_PERM)


# --- reads -----------------------------------------------------------------


def with_customer_history(qs: QuerySet[Order]) -> QuerySet[Order]:
    """Annotate each order with its customer's *earlier* orders, so a reviewer
    sees at a glance whether this is a first order or a regular's."""

    def earlier(**filters) -> Coalesce:
        counted = (
            Order.objects.filter(
                customer=OuterRef("customer"), created_at__lt=OuterRef("created_at"), **filters
            )
            .order_by()
            .values("customer")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return qs.annotate(
        earlier_orders=earlier(),
        earlier_delivered=earlier(status__in=DELIVERED),
        earlier_cancelled=earlier(status=OrderStatus.CANCELLED),
    )


def _active_order_holds() -> QuerySet[Hold]:
    return Hold.objects.filter(released_at__isnull=True, shipment__isnull=True)


def held_orders(reason: str | None = None) -> QuerySet[Order]:
    """The queue: oldest hold first (it has waited longest); with `reason`,
    only the orders held (among others) for that reason."""
    qs = Order.objects.filter(status=OrderStatus.ON_HOLD)
    if reason:
        qs = qs.filter(pk__in=_active_order_holds().filter(reason=reason).values("order_id"))
    return with_customer_history(
        qs.select_related("market", "customer", "customer__profile", "reviewer")
        .prefetch_related(
            Prefetch(
                "holds",
                queryset=_active_order_holds().select_related("placed_by"),
                to_attr="active_holds",
            )
        )
        .order_by("held_at", "pk")
    )


def hold_reason_counts() -> list[tuple[str, str, int]]:
    """(code, label, held orders) for every reason, in the reasons' order; an
    order held for two reasons counts under both."""
    counted = dict(
        _active_order_holds()
        .filter(order__status=OrderStatus.ON_HOLD)
        .order_by()
        .values_list("reason")
        .annotate(n=Count("order_id", distinct=True))
    )
    return [(code, label, counted.get(code, 0)) for code, label in HoldReason.choices]


def format_minutes(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {mins:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@dataclass
class ReviewState:
    """What the queue row and the order page show about an order's review."""

    order: Order
    user: object
    now: datetime

    @property
    def minutes_in_queue(self) -> int | None:
        if self.order.status != OrderStatus.ON_HOLD or self.order.held_at is None:
            return None
        return max(0, int((self.now - self.order.held_at).total_seconds() // 60))

    @property
    def time_in_queue(self) -> str:
        minutes = self.minutes_in_queue
        return "" if minutes is None else format_minutes(minutes)

    @property
    def overdue(self) -> bool:
        minutes = self.minutes_in_queue
        return minutes is not None and minutes > settings.REVIEW_SLA_MINUTES

    @property
    def claimed_by_other(self) -> bool:
        return bool(self.order.reviewer_id and self.order.reviewer_id != self.user.pk)

    @property
    def claim_label(self) -> str:
        if not self.order.reviewer_id:
            return ""
        if self.order.reviewer_id == self.user.pk:
            return "claimed by you"
        return f"claimed by {self.order.reviewer.get_username()}"

    @property
    def history(self) -> str:
        return customer_history_text(self.order, self.now)

    @property
    def holds(self) -> list[Hold]:
        held = getattr(self.order, "active_holds", None)
        return list(_active_order_holds().filter(order=self.order) if held is None else held)


def customer_history_text(order: Order, now: datetime) -> str:
    """Needs an order annotated by `with_customer_history`."""
    customer = order.customer
    age_days = (now - customer.date_joined).days
    parts = [
        f"{order.earlier_orders} earlier order{'s' if order.earlier_orders != 1 else ''}",
        f"{order.earlier_delivered} delivered",
        f"{order.earlier_cancelled} cancelled",
        f"account {age_days} day{'s' if age_days != 1 else ''} old",
    ]
    profile = getattr(customer, "profile", None)
    if profile is not None and profile.trusted:
        parts.append("trusted")
    return " · ".join(parts)


# --- forms and operations ----------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(
        label="Note (the customer sees it in the order's history)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


class AuditNoteForm(forms.Form):
    note = forms.CharField(
        label="Staff-only note (kept in the order's history; not shown to the customer)",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason (required; the customer sees it: keep findings for a staff-only note)",
        max_length=250,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason


@dataclass(frozen=True)
class Operation:
    name: str
    verb: str
    past: str
    form_class: type[forms.Form]
    field: str
    perm: str
    call: Callable[[Order, object, str], Order]


OPERATIONS = {
    "approve": Operation(
        "approve",
        "Approve",
        "approved",
        NoteForm,
        "note",
        REVIEW_PERM,
        lambda order, actor, text: order_approve(order=order, actor=actor, note=text),
    ),
    "reject": Operation(
        "reject",
        "Reject",
        "rejected",
        ReasonForm,
        "reason",
        REVIEW_PERM,
        lambda order, actor, text: order_reject(order=order, actor=actor, reason=text),
    ),
    "note": Operation(
        "note",
        "Add a note to",
        "noted",
        AuditNoteForm,
        "note",
        CANCEL_PERM,
        lambda order, actor, text: order_note_add(order=order, actor=actor, note=text),
    ),
    "cancel": Operation(
        "cancel",
        "Cancel",
        "cancelled",
        ReasonForm,
        "reason",
        CANCEL_PERM,
        lambda order, actor, text: order_cancel(order=order, actor=actor, reason=text),
    ),
}


class HoldPlaceForm(forms.Form):
    reason = forms.ChoiceField(choices=HoldReason.choices)
    note = forms.CharField(required=False, max_length=1000)
    shipment = forms.CharField(
        required=False, help_text="A shipment number to hold only it; empty for the order."
    )


class HoldReleaseForm(forms.Form):
    note = forms.CharField(required=False, max_length=1000)


def run_operation(request: HttpRequest, op: Operation, orders: Iterable[Order], text: str) -> int:
    """Call the service once per order; each call is its own transaction, so
    one refusal does not undo the others. Returns how many succeeded."""
    done = []
    for order in orders:
        try:
            op.call(order, request.user, text)
        except DomainError as exc:
            messages.error(request, f"{order}: {exc.message}")
        else:
            done.append(str(order))
    if done:
        messages.success(request, f"{op.past.capitalize()}: {', '.join(done)}.")
    return len(done)


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else fallback


# --- the admin mixin ---------------------------------------------------------


class ReviewConsoleMixin:
    """Queue, claim/approve/reject/cancel pages and the matching bulk actions."""

    actions = ["approve_selected", "reject_selected", "cancel_selected"]

    def has_review_permission(self, request: HttpRequest) -> bool:
        return can_review(request.user)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        custom = [
            path("review-queue/", wrap(self.review_queue_view), name=f"{info}_review_queue"),
            path("<path:object_id>/claim/", wrap(self.claim_view), name=f"{info}_claim"),
            path(
                "<path:object_id>/holds/place/",
                wrap(self.hold_place_view),
                name=f"{info}_hold_place",
            ),
            path(
                "<path:object_id>/holds/<int:hold_id>/release/",
                wrap(self.hold_release_view),
                name=f"{info}_hold_release",
            ),
        ]
        for name in OPERATIONS:
            custom.append(
                path(
                    f"<path:object_id>/{name}/",
                    wrap(self.operation_view),
                    {"op_name": name},
                    name=f"{info}_{name}",
                )
            )
        return custom + super().get_urls()

    def review_context(self, request: HttpRequest, order: Order | None) -> dict:
        """Context for the review panel on an order's page."""
        if order is None:
            return {}
        return {
            "review": ReviewState(order, request.user, timezone.now()),
            "can_review": can_review(request.user),
            "can_cancel": request.user.has_perm(CANCEL_PERM),
            "is_held": order.status == OrderStatus.ON_HOLD,
            # The button follows the model's transition; the service still has the last word.
            "is_cancellable": can_proceed(order.cancel),
            "sla_minutes": settings.REVIEW_SLA_MINUTES,
            # Holds: active first, then history; buttons for reviewers only.
            "holds": sorted(
                order.holds.select_related("shipment", "placed_by", "released_by"),
                key=lambda h: (not h.active, h.placed_at, h.pk),
            ),
            "hold_reasons": HoldReason.choices,
            "holdable_shipments": list(
                order.shipments.filter(status__in=("pending", "packed")).values_list(
                    "number", flat=True
                )
            ),
        }

    # --- views ---

    def review_queue_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        reason = request.GET.get("reason") or None
        if reason not in HoldReason.values:
            reason = None
        page = Paginator(held_orders(reason), QUEUE_PAGE_SIZE).get_page(request.GET.get("p"))
        context = {
            "reason": reason,
            "reason_label": HoldReason(reason).label if reason else "",
            "reason_counts": hold_reason_counts(),
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Review queue",
            "page": page,
            "rows": [ReviewState(order, request.user, now) for order in page.object_list],
            "can_review": can_review(request.user),
            "sla_minutes": settings.REVIEW_SLA_MINUTES,
            "queue_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/orders/order/review_queue.html", context)

    def _order_or_redirect(self, request: HttpRequest, object_id: str):
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return order, None

    def _change_url(self, order: Order) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk]
        )

    def claim_view(self, request: HttpRequest, object_id: str):
        return require_POST(self._claim)(request, object_id)

    def _claim(self, request: HttpRequest, object_id: str):
        if not can_review(request.user):
            raise PermissionDenied
        order, redirect = self._order_or_redirect(request, object_id)
        if redirect:
            return redirect
        previous = order.reviewer
        try:
            order_claim(order=order, actor=request.user)
        except DomainError as exc:
            messages.error(request, f"{order}: {exc.message}")
        else:
            if previous is not None and previous.pk != request.user.pk:
                messages.warning(request, f"You took {order} over from {previous.get_username()}.")
            else:
                messages.success(request, f"You claimed {order}.")
        return HttpResponseRedirect(safe_next(request, self._change_url(order)))

    def hold_place_view(self, request: HttpRequest, object_id: str):
        return require_POST(self._hold_place)(request, object_id)

    def _hold_place(self, request: HttpRequest, object_id: str):
        if not can_review(request.user):
            raise PermissionDenied
        order, redirect = self._order_or_redirect(request, object_id)
        if redirect:
            return redirect
        form = HoldPlaceForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"{order}: choose one of the hold reasons.")
            return HttpResponseRedirect(self._change_url(order))
        data = form.cleaned_data
        try:
            if data["shipment"]:
                shipment = order.shipments.filter(number=data["shipment"]).first()
                if shipment is None:
                    raise DomainError(f"No shipment {data['shipment']} on this order.")
                hold_place(
                    shipment=shipment, reason=data["reason"], note=data["note"], actor=request.user
                )
            else:
                hold_place(
                    order=order, reason=data["reason"], note=data["note"], actor=request.user
                )
        except DomainError as exc:
            messages.error(request, f"{order}: {exc.message}")
        else:
            where = f"shipment {data['shipment']}" if data["shipment"] else str(order)
            messages.success(request, f"Held {where}: {HoldReason(data['reason']).label}.")
        return HttpResponseRedirect(self._change_url(order))

    def hold_release_view(self, request: HttpRequest, object_id: str, hold_id: int):
        return require_POST(self._hold_release)(request, object_id, hold_id)

    def _hold_release(self, request: HttpRequest, object_id: str, hold_id: int):
        if not can_review(request.user):
            raise PermissionDenied
        order, redirect = self._order_or_redirect(request, object_id)
        if redirect:
            return redirect
        form = HoldReleaseForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        hold = order.holds.filter(pk=hold_id).first()
        try:
            if hold is None:
                raise DomainError(f"No hold {hold_id} on this order.")
            hold_release(hold_id=hold.pk, actor=request.user, note=note)
        except DomainError as exc:
            messages.error(request, f"{order}: {exc.message}")
        else:
            order.refresh_from_db()
            messages.success(
                request,
                f"Released the {hold.get_reason_display()} hold; {order} is {order.status}.",
            )
        return HttpResponseRedirect(self._change_url(order))

    def operation_view(self, request: HttpRequest, object_id: str, op_name: str):
        op = OPERATIONS[op_name]
        # Refuse before reading the body: a forced POST without the permission
        # must change nothing, whatever it carries.
        if not request.user.has_perm(op.perm):
            raise PermissionDenied
        order, redirect = self._order_or_redirect(request, object_id)
        if redirect:
            return redirect
        fallback = self._change_url(order)
        form = op.form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            run_operation(request, op, [order], form.cleaned_data[op.field])
            return HttpResponseRedirect(safe_next(request, fallback))
        return self._render_operation(
            request, op, [order], form, next_url=safe_next(request, fallback)
        )

    def _render_operation(self, request, op, orders, form, *, next_url="", bulk=False):
        now = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{op.verb} order{'s' if len(orders) != 1 else ''}",
            "op": op,
            "rows": [ReviewState(order, request.user, now) for order in orders],
            "form": form,
            "bulk": bulk,
            "next_url": next_url,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/orders/order/review_action.html", context)

    # --- bulk actions: an intermediate page asks for the note or reason ---

    def _bulk(self, request: HttpRequest, queryset: QuerySet[Order], op_name: str):
        op = OPERATIONS[op_name]
        orders = list(queryset.select_related("reviewer").order_by("pk"))
        if "apply" in request.POST:
            form = op.form_class(request.POST)
            if form.is_valid():
                run_operation(request, op, orders, form.cleaned_data[op.field])
                return None  # back to the changelist, where the messages show
        else:
            form = op.form_class()
        return self._render_operation(request, op, orders, form, bulk=True)

    @admin.action(description="Approve selected held orders", permissions=["review"])
    def approve_selected(self, request, queryset):
        return self._bulk(request, queryset, "approve")

    @admin.action(description="Reject selected held orders", permissions=["review"])
    def reject_selected(self, request, queryset):
        return self._bulk(request, queryset, "reject")

    @admin.action(description="Cancel selected orders", permissions=["change"])
    def cancel_selected(self, request, queryset):
        return self._bulk(request, queryset, "cancel")
