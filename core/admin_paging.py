"""Changelists of tables that grow without bound (orders, payments, ledgers,
logs), kept fast at millions of rows. `LargeTableAdminMixin` gives a ModelAdmin:

- `EstimatedCountPaginator`: no `COUNT(*)` over the whole table on every page
  view: PostgreSQL's planner estimate (pg_class.reltuples, kept fresh by
  autovacuum/ANALYZE) stands in when it is large; small tables and filtered or
  searched lists keep the exact count, which their indexes make cheap.
- `show_full_result_count = False`: no second `COUNT(*)` of the whole table for
  the "N total" link of a filtered list.
- a date hierarchy that asks the index: Django lists the years (months, days)
  of the date hierarchy with `SELECT DISTINCT date_trunc(...)` over every row of
  the list; here each period is found with one `ORDER BY field LIMIT 1` probe
  from the start of the next, a few index lookups, same result."""

from __future__ import annotations

import datetime as dt

from django.contrib.admin import AllValuesFieldListFilter
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

# Below this many rows an exact count is fast enough and keeps page numbers exact.
ESTIMATE_ABOVE = 100_000


def table_row_estimate(model) -> int:
    """The planner's row estimate for the model's table; -1 when unknown."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and not query.distinct:
            estimate = table_row_estimate(queryset.model)
            if estimate >= ESTIMATE_ABOVE:
                return estimate
        return super().count


def _period_start(value: dt.datetime, kind: str) -> dt.datetime:
    if kind == "year":
        value = value.replace(month=1, day=1)
    elif kind == "month":
        value = value.replace(day=1)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _next_period(start: dt.datetime, kind: str) -> dt.datetime:
    """The start of the period after `start` (naive wall time)."""
    if kind == "year":
        return start.replace(year=start.year + 1)
    if kind == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start + dt.timedelta(days=1)


class IndexedDatesQuerySet(QuerySet):
    """`datetimes()` for year, month and day by probing an index instead of
    truncating and de-duplicating every row (what the date hierarchy asks)."""

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if kind not in ("year", "month", "day") or order != "ASC" or not self._fields_ok():
            return super().datetimes(field_name, kind, order=order, tzinfo=tzinfo)
        tz = tzinfo or timezone.get_current_timezone()
        values = self.order_by(field_name).values_list(field_name, flat=True)
        found: list[dt.datetime] = []
        after = None
        while True:
            probe = values if after is None else values.filter(**{f"{field_name}__gte": after})
            first = probe.first()
            if first is None:
                return found
            local = timezone.localtime(first, tz) if timezone.is_aware(first) else first
            start = _period_start(local.replace(tzinfo=None), kind)
            found.append(timezone.make_aware(start, tz) if timezone.is_aware(first) else start)
            following = _next_period(start, kind)
            after = timezone.make_aware(following, tz) if timezone.is_aware(first) else following

    def _fields_ok(self) -> bool:
        # Sliced or combined querysets cannot be re-filtered.
        return not self.query.is_sliced and not self.query.combinator


_indexed_classes: dict[type, type] = {}


def with_indexed_dates(queryset: QuerySet) -> QuerySet:
    """The same queryset, answering `datetimes()` as IndexedDatesQuerySet does."""
    cls = queryset.__class__
    if issubclass(cls, IndexedDatesQuerySet):
        return queryset
    if cls not in _indexed_classes:
        _indexed_classes[cls] = type(f"IndexedDates{cls.__name__}", (IndexedDatesQuerySet, cls), {})
    queryset = queryset._chain()
    queryset.__class__ = _indexed_classes[cls]
    return queryset


class LargeTableAdminMixin:
    """For a ModelAdmin whose table grows without bound (see the module docstring)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request):
        return with_indexed_dates(super().get_queryset(request))


PROBE_LIMIT = 50


def distinct_by_probing(queryset: QuerySet, field_name: str, limit: int = PROBE_LIMIT):
    """The distinct non-null values of `field_name`, sorted, one index probe each
    (`ORDER BY field LIMIT 1` above the previous value); None when there are more
    than `limit` (then SELECT DISTINCT is the better plan)."""
    values = queryset.order_by(field_name).values_list(field_name, flat=True)
    found = []
    value = values.filter(**{f"{field_name}__isnull": False}).first()
    while value is not None:
        found.append(value)
        if len(found) > limit:
            return None
        value = values.filter(**{f"{field_name}__gt": value}).first()
    return found


class IndexedValuesFieldListFilter(AllValuesFieldListFilter):
    """Django's filter for a plain field, with its choices found by index probes
    (distinct_by_probing) instead of SELECT DISTINCT over every row. For a
    column with few values and an index that starts with it."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        if "__" not in field_path:
            queryset = model_admin.get_queryset(request)
            values = distinct_by_probing(queryset, field.name)
            if values is not None:
                if queryset.filter(**{f"{field.name}__isnull": True}).exists():
                    values.append(None)
                self.lookup_choices = values
