"""The ops dashboard in the admin: /admin/reports/dashboard/.

Anonymous visitors go to the admin login (the admin's own behaviour); a
logged-in user who is not staff, or staff without `orders.view_order`, gets
403. The figures come from `reports.selectors.summary`."""

from __future__ import annotations

import datetime as dt
from functools import wraps
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from orders.models import OrderStatus

from . import selectors
from .charts import bar_chart, column_chart
from .ranges import MAX_RANGE_DAYS, MAX_YEAR, MIN_YEAR, UTC, DateRange

VIEW_PERM = "orders.view_order"


def staff_admin_view(view):
    """`admin_site.admin_view` (login redirect for anonymous users, never
    cached), but a logged-in non-staff user is refused with 403 instead of
    being sent to a login page they cannot get past."""
    wrapped = admin.site.admin_view(view)

    @wraps(view)
    def inner(request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not (user.is_active and user.is_staff):
            raise PermissionDenied
        return wrapped(request, *args, **kwargs)

    return inner


class RangeForm(forms.Form):
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        for day in (since, until):
            if day and not MIN_YEAR <= day.year <= MAX_YEAR:
                raise forms.ValidationError(f"Pick days between {MIN_YEAR} and {MAX_YEAR}.")
        if since and until and since > until:
            raise forms.ValidationError("“From” must not be after “To”.")
        if since:
            last = until or max(timezone.now().astimezone(UTC).date(), since)
            if (last - since).days + 1 > MAX_RANGE_DAYS:
                raise forms.ValidationError(f"Pick at most {MAX_RANGE_DAYS} days.")
        return data

    def period(self, now: dt.datetime) -> DateRange:
        """The chosen UTC days; today when the form is empty or invalid."""
        today = now.astimezone(UTC).date()
        if not self.is_valid():
            return DateRange.today(now)
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        first = since or until or today
        last = until or max(today, first)
        return DateRange(DateRange.day(first).since, DateRange.day(last).until)


def _changelist(**params) -> str:
    url = reverse("admin:orders_order_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _status_chart(summary: selectors.Summary, period: DateRange):
    created = {
        "created_at__gte": period.since.isoformat(),
        "created_at__lt": period.until.isoformat(),
    }
    rows = [
        (
            status.label,
            summary.orders_by_status[status.value],
            str(summary.orders_by_status[status.value]),
            _changelist(status__exact=status.value, **created),
        )
        for status in OrderStatus
    ]
    return bar_chart("Orders by status", rows)


def _revenue_charts(period: DateRange, summary: selectors.Summary, groups) -> list:
    series = selectors.revenue_per_day(period, markets=summary.revenue, groups=groups)
    charts = []
    for (market, currency), days in sorted(series.items()):
        total = sum(days.values())
        points = [
            (f"{day:%Y-%m-%d}", amount, f"{amount} {currency}") for day, amount in days.items()
        ]
        charts.append(column_chart(f"{market}", points, caption=f"{total:.2f} {currency}"))
    return charts


def format_ms(value) -> str:
    """A duration in milliseconds, in the unit that reads best."""
    if value is None:
        return "—"
    value = float(value)
    for size, unit, digits in ((3_600_000, "h", 1), (60_000, "min", 1), (1_000, "s", 1)):
        if value >= size:
            return f"{value / size:.{digits}f} {unit}"
    return f"{value:.0f} ms"


def _timing_rows(timings: dict[str, dict]) -> list[dict]:
    """operations' {step: {"p50", "p90", "p99" (ms), "count"}} as table rows."""
    return [
        {
            "step": step,
            "label": step.replace("_", " ").capitalize(),
            "count": figures.get("count", 0),
            **{key: format_ms(figures.get(key)) for key in ("p50", "p90", "p99")},
        }
        for step, figures in timings.items()
    ]


def dashboard_view(request):
    if not request.user.has_perm(VIEW_PERM):
        raise PermissionDenied
    now = timezone.now()
    form = RangeForm(request.GET or None)
    period = form.period(now) if form.is_bound else DateRange.today(now)
    groups = selectors.range_groups(period)  # the range's orders, read once
    summary = selectors.summary(period, now=now, groups=groups)
    context = {
        **admin.site.each_context(request),
        "title": "Ops dashboard",
        "form": form,
        "period": period,
        "is_today": period == DateRange.today(now),
        "summary": summary,
        "status_chart": _status_chart(summary, period),
        "revenue_charts": _revenue_charts(period, summary, groups),
        "step_timings": _timing_rows(selectors.step_timings(period)),
        "orders_url": _changelist(
            created_at__gte=period.since.isoformat(), created_at__lt=period.until.isoformat()
        ),
        "review_queue_url": reverse("admin:orders_order_review_queue"),
        "can_view_stock": request.user.has_perm("inventory.view_stocklevel"),
    }
    return TemplateResponse(request, "admin/reports/dashboard.html", context)
