"""Migration operations the autodetector's own would do at too high a price."""

from __future__ import annotations

from django.db import migrations


def drop_foreign_key_index(
    operation: migrations.AlterField, *, table: str, index: str, column: str
):
    """`operation` sets db_index=False on a foreign key whose column another
    index already leads. Django's AlterField would drop and re-add the foreign
    key's constraint around the index, and re-adding it checks every row
    under a lock (minutes on a big table); here the index alone goes."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[operation],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"',
                reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")',
            )
        ],
    )
