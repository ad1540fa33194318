"""PostgreSQL settings the hot paths rely on (config/settings.py)."""

from __future__ import annotations

import pytest
from django.db import connection

from orders.models import Market

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
def test_a_statement_run_often_is_prepared_on_its_connection(settings):
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    assert threshold == settings.DATABASE_PREPARE_THRESHOLD > 0
    for _ in range(threshold + 1):
        list(Market.objects.filter(code="ZZ", active=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "orders_market" WHERE%'],
        )
        assert cursor.fetchone()[0] == 1
