"""A changelist paginator that does not count a large table on every page.

Unfiltered, the order list would run `COUNT(*)` over every order for each page
view (seconds at a million rows). PostgreSQL's planner estimate (pg_class.reltuples,
kept fresh by autovacuum/ANALYZE) stands in when it is large; small tables and any
filtered or searched list keep the exact count, which the indexes make cheap."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import connections
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
