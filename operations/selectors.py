"""Operations reads: an order's errors, open error counts, step-timing percentiles."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from django.db import connections, router
from django.db.models import Count, QuerySet

from .models import ProcessingError, StepTiming, TimingStep

# Reported percentiles: key → fraction. Same definition as PostgreSQL's
# percentile_cont (linear interpolation between the closest ranks).
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def errors_for_order(order_id: int, *, unresolved_only: bool = False) -> QuerySet[ProcessingError]:
    """An order's processing errors, open ones first, newest first."""
    errors = ProcessingError.objects.filter(order_id=order_id).select_related("resolved_by")
    if unresolved_only:
        errors = errors.filter(resolved=False)
    return errors.order_by("resolved", "-last_seen_at", "-id")


def unresolved_error_counts() -> dict[str, int]:
    """{category: number of open errors}, only categories that have some."""
    rows = (
        ProcessingError.objects.filter(resolved=False)
        .values_list("category")
        .annotate(n=Count("id"))
        .order_by("category")
    )
    return dict(rows)


def timing_percentiles(
    *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, dict[str, float | int]]:
    """{step: {"p50", "p90", "p99" (milliseconds), "count"}} over timings recorded
    in [since, until). Known steps come first in their usual order, then any others
    alphabetically. PostgreSQL computes it with percentile_cont; other databases
    (the SQLite quick start) in Python, with the same interpolation."""
    connection = connections[router.db_for_read(StepTiming)]
    if connection.vendor == "postgresql":
        rows = _percentiles_sql(connection, since=since, until=until)
    else:
        rows = _percentiles_python(since=since, until=until)
    known = list(TimingStep.values)
    ordered = sorted(
        rows, key=lambda step: (known.index(step) if step in known else len(known), step)
    )
    return {step: rows[step] for step in ordered}


def _percentiles_sql(connection, *, since, until) -> dict[str, dict]:
    opts = StepTiming._meta
    quote = connection.ops.quote_name
    step = quote(opts.get_field("step").column)
    ms = quote(opts.get_field("milliseconds").column)
    recorded_at = quote(opts.get_field("recorded_at").column)
    where, params = [], []
    if since is not None:
        where.append(f"{recorded_at} >= %s")
        params.append(since)
    if until is not None:
        where.append(f"{recorded_at} < %s")
        params.append(until)
    columns = ", ".join(
        f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {ms})" for _, fraction in PERCENTILES
    )
    sql = f"SELECT {step}, COUNT(*), {columns} FROM {quote(opts.db_table)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" GROUP BY {step}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        result = cursor.fetchall()
    return {
        row[0]: {
            **{
                key: round(float(value), 3)
                for (key, _), value in zip(PERCENTILES, row[2:], strict=True)
            },
            "count": int(row[1]),
        }
        for row in result
    }


def _percentiles_python(*, since, until) -> dict[str, dict]:
    timings = StepTiming.objects.all()
    if since is not None:
        timings = timings.filter(recorded_at__gte=since)
    if until is not None:
        timings = timings.filter(recorded_at__lt=until)
    rows = timings.order_by("step", "milliseconds").values_list("step", "milliseconds")
    result = {}
    for step, group in groupby(rows, key=lambda row: row[0]):
        values = [ms for _, ms in group]
        result[step] = {
            **{key: round(percentile_cont(values, fraction), 3) for key, fraction in PERCENTILES},
            "count": len(values),
        }
    return result


def percentile_cont(sorted_values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont over already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    position = fraction * (len(sorted_values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight
