"""Trigram indexes for the order changelist's search (orders/admin_search.py).

Django's `icontains` is `UPPER(col::text) LIKE UPPER('%term%')` on PostgreSQL,
so each index is on that expression. PostgreSQL only: on SQLite (the quick
start) both operations do nothing. Built CONCURRENTLY (hence a non-atomic
migration), so a live database keeps taking orders while they build. Not in
the models' state on purpose: Django's GinIndex cannot be skipped on SQLite."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = [
    ("orders_order_number_trgm", "orders_order", "number"),
    ("orders_orderline_sku_trgm", "orders_orderline", "sku"),
    ("auth_user_username_trgm", "auth_user", "username"),
    ("auth_user_email_trgm", "auth_user", "email"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("orders", "0010_line_quantity_cancelled"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
