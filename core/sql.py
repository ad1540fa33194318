"""Several writes in one statement, for the hot paths (placing and confirming
an order), where each extra statement is a round trip, a parse and a plan in
PostgreSQL and a compile in the ORM.

The rows are still model instances, and each value is prepared exactly as the
ORM prepares it for its own INSERT and UPDATE (`pre_save`, which fills
auto_now stamps, then `get_db_prep_save`), so the SQL cannot drift from the
models: a new column is written like any other. PostgreSQL runs the writes as
one statement (data-modifying WITH clauses, each table's rows passed as one
JSON document that `jsonb_populate_recordset` types by the table); another
database (the SQLite quick start) takes the plain ORM calls, one per write."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import date, time
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Model
from psycopg.types.json import Jsonb

Rows = Sequence[Model]


def write_together(
    *, updates: Sequence[tuple[Rows, Sequence[str]]] = (), inserts: Sequence[Rows] = ()
) -> None:
    """Save `fields` of each row in `updates` (rows of one model per entry),
    and insert each batch in `inserts` (rows of one model per batch, in an
    order where a row's foreign keys point to rows already saved or earlier
    in the list). Rows inserted with a primary key set (`next_ids`) keep it;
    the last batch gets its primary keys back, as from `bulk_create`. Call
    inside the transaction that locked the updated rows."""
    updates = [(rows, fields) for rows, fields in updates if rows and fields]
    inserts = [rows for rows in inserts if rows]
    if not updates and not inserts:
        return
    if _batched():
        _write_in_one_statement(updates, inserts)
    else:
        for rows, fields in updates:
            meta = type(rows[0])._meta
            for obj in rows:  # auto_now stamps, as on PostgreSQL (bulk_update skips them)
                for name in fields:
                    meta.get_field(name).pre_save(obj, False)
            type(rows[0]).objects.bulk_update(rows, fields)
        for rows in inserts:
            type(rows[0]).objects.bulk_create(rows)
    for rows in [rows for rows, _ in updates] + inserts:
        for obj in rows:
            if obj.pk is not None:
                _saved(obj)


def _write_in_one_statement(updates, inserts) -> None:
    for rows in inserts:
        for obj in rows:  # foreign keys to rows given their keys after assignment
            obj._prepare_related_fields_for_save(operation_name="write_together")
    parts = [_update_rows(rows, fields) for rows, fields in updates]
    parts += [_insert_rows(rows) for rows in inserts]
    returned = inserts[-1] if inserts else None
    statement, params = parts[-1]
    if returned is not None:
        statement += f" RETURNING {_quote(type(returned[0])._meta.pk.column)}"
    if len(parts) > 1:
        ctes = ", ".join(f"w{n} AS ({sql})" for n, (sql, _) in enumerate(parts[:-1]))
        statement = f"WITH {ctes} {statement}"
        params = [p for _, values in parts[:-1] for p in values] + params
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        # PostgreSQL returns the rows of INSERT ... SELECT FROM a set-returning
        # function in the function's order (bulk_create relies on the same with unnest).
        ids = [row[0] for row in cursor.fetchall()] if returned is not None else []
    for obj, pk in zip(returned or (), ids, strict=True):
        obj.pk = pk


def upsert(rows: Rows, *, unique: Sequence[str], update: Sequence[str]) -> None:
    """Insert `rows` (of one model), or where a row with the same `unique`
    fields exists, overwrite its `update` fields: one statement with no
    transaction around it (bulk_create with update_conflicts wraps one). Rows
    get their primary keys."""
    if not rows:
        return
    model = type(rows[0])
    if not _batched():
        model.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=unique, update_fields=update
        )
        return
    meta = model._meta
    sql, params = _insert_rows(rows)
    conflict = ", ".join(_quote(meta.get_field(name).column) for name in unique)
    columns = [_quote(meta.get_field(name).column) for name in update]
    sql += (
        f" ON CONFLICT ({conflict}) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
        + f" RETURNING {_quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(rows, ids, strict=True):
        obj.pk = pk
        _saved(obj)


def insert_unless_taken(obj: Model, *, unique: Sequence[str]) -> bool:
    """Insert `obj` unless a row with the same `unique` fields (a unique
    constraint's) exists: True when it was inserted (it has its key now),
    False when the row was there already. On PostgreSQL one
    `ON CONFLICT DO NOTHING` statement, with no savepoint around it, so the
    caller's transaction goes on either way; elsewhere a savepoint."""
    if not _batched():
        try:
            with transaction.atomic():
                obj.save(force_insert=True)
        except IntegrityError:
            return False
        return True
    meta = obj._meta
    obj._prepare_related_fields_for_save(operation_name="insert_unless_taken")
    sql, params = _insert_rows([obj])
    conflict = ", ".join(_quote(meta.get_field(name).column) for name in unique)
    sql += f" ON CONFLICT ({conflict}) DO NOTHING RETURNING {_quote(meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    _saved(obj)
    return True


def _saved(obj: Model) -> None:
    """What `Model.save` leaves on an instance it wrote."""
    obj._state.adding = False
    obj._state.db = connection.alias
    if hasattr(obj, "_update_initial_state"):
        # django-fsm's ConcurrentTransitionMixin: later saves expect the state now stored.
        obj._update_initial_state()


def next_ids(*wanted: tuple[type[Model], int]) -> list[list[int]] | None:
    """Draw `n` primary keys for each (model, n) from the tables' sequences, in
    one statement, so that rows pointing at each other can be written together.
    None where the database has no sequences (SQLite): insert in order instead."""
    if not _batched():
        return None
    draws = ", ".join(
        "ARRAY(SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s))"
        for _ in wanted
    )
    params = []
    for model, n in wanted:
        params += [model._meta.db_table, model._meta.pk.column, n]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {draws}", params)
        return [list(ids) for ids in cursor.fetchone()]


def columns(model: type[Model], alias: str) -> str:
    """The model's columns, qualified by `alias`, in the order `select_joined`
    reads them back."""
    return ", ".join(f"{alias}.{_quote(f.column)}" for f in model._meta.concrete_fields)


def select_joined(sql: str, params: Sequence, models: Sequence[type[Model]]) -> list | None:
    """The first row of `select_joined_rows`, or None for no row."""
    rows = select_joined_rows(sql, params, models)
    return rows[0] if rows else None


def select_joined_rows(sql: str, params: Sequence, models: Sequence[type[Model]]) -> list[list]:
    """Every row of `sql`, which selects `columns(model, alias)` of each of
    `models` in turn (a join), as one instance of each; None for a model
    whose primary key came back NULL (a LEFT JOIN that found nothing). This
    is `select_related` without the compile."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    widths = [len(model._meta.concrete_fields) for model in models]
    found = []
    for row in rows:
        instances, start = [], 0
        for model, width in zip(models, widths, strict=True):
            instances.append(_instance(model, row[start : start + width]))
            start += width
        found.append(instances)
    return found


def select_models(
    sql: str, params: Sequence, model: type[Model], *, extra: Sequence[str] = ()
) -> list[Model]:
    """Every row of `sql`, which selects `columns(model, alias)` and then one
    column for each name in `extra`, as instances of `model` with the extras
    as attributes (unconverted, as `Model.objects.raw` leaves annotations).
    `raw()` matches the columns to the fields on every call, which costs
    more than a small statement; here that is done once per model."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(model._meta.concrete_fields)
    found = []
    for row in rows:
        obj = _instance(model, row[:width])
        for name, value in zip(extra, row[width:], strict=True):
            setattr(obj, name, value)
        found.append(obj)
    return found


def _instance(model: type[Model], row: Sequence) -> Model | None:
    """A model instance from its columns' values as read (None for a NULL
    primary key), each through its field's converters, as in the ORM's reads."""
    db = _db()
    pk_index, conversions = _conversions(model, db.alias)
    if row[pk_index] is None:
        return None
    values = list(row)
    for index, converters, column in conversions:
        for convert in converters:
            values[index] = convert(values[index], column, db)
    return model.from_db(db.alias, None, values)


@functools.cache
def _conversions(model: type[Model], alias: str) -> tuple[int, list]:
    """The primary key's position among the model's columns, and the
    converters of each column that has any: what the ORM's compiler looks up
    for every column of every read."""
    db = connections[alias]
    fields = list(model._meta.concrete_fields)
    conversions = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        converters = db.ops.get_db_converters(column) + column.get_db_converters(db)
        if converters:
            conversions.append((index, converters, column))
    return fields.index(model._meta.pk), conversions


def for_update(*, of: str = "", skip_locked: bool = False) -> str:
    """The row-lock clause to end a hand-written SELECT with ("" on SQLite,
    whose writers take turns anyway)."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    clause = " FOR UPDATE"
    if of and features.has_select_for_update_of:
        clause += f" OF {of}"
    if skip_locked and features.has_select_for_update_skip_locked:
        clause += " SKIP LOCKED"
    return clause


def _batched() -> bool:
    """Whether writes go together: PostgreSQL only. (Tests switch it off to
    hold the one-statement path equal to the ORM's.)"""
    return connection.vendor == "postgresql"


def _db():
    """The default connection itself: `django.db.connection` is a proxy that
    looks the connection up (a context-local read) on every attribute access,
    and the fields' and converters' code reads several for each value."""
    return connections[DEFAULT_DB_ALIAS]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _document(fields, rows: Rows, *, add: bool) -> str:
    """The rows as one JSON array of objects keyed by column, which
    `jsonb_populate_recordset` reads back with the table's own column types.
    One parameter per table: psycopg adapts a list parameter per column
    (scanning each for its element type) and re-parses a statement of more
    than 50 parameters on every call, which cost more than the write itself."""
    db = _db()
    document = []
    for obj in rows:
        row = {}
        for field in fields:
            value = field.pre_save(obj, add)
            if hasattr(value, "resolve_expression"):
                # A DatabaseDefault or F() would need the ORM's compiler; give the field a default.
                raise TypeError(f"write_together writes values, not expressions ({field.name}).")
            row[field.column] = field.get_db_prep_save(value, db)
        document.append(row)
    return json.dumps(document, default=_json_value, ensure_ascii=False)


def _json_value(value):
    """The text PostgreSQL's input function for the column takes, for a
    prepared value that JSON has no type for (numeric stays exact as text)."""
    if isinstance(value, Decimal | UUID | IPv4Address | IPv6Address):
        return str(value)
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, Jsonb):  # a JSONField's value, encoded by the field's encoder
        return json.loads((value.dumps or json.dumps)(value.obj))
    raise TypeError(f"write_together cannot write a {type(value).__name__} value.")


def _insert_rows(rows: Rows) -> tuple[str, list]:
    sql, fields = _insert_sql(type(rows[0]), with_pk=rows[0].pk is not None)
    return sql, [_document(fields, rows, add=True)]


def _update_rows(rows: Rows, names: Sequence[str]) -> tuple[str, list]:
    sql, fields = _update_sql(type(rows[0]), tuple(names))
    return sql, [_document(fields, rows, add=False)]


# The statements' text depends only on the model (and the fields written):
# built once per process, as the ORM cannot.
@functools.cache
def _insert_sql(model, *, with_pk: bool) -> tuple[str, list]:
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.pk or with_pk]
    columns = ", ".join(_quote(f.column) for f in fields)
    sql = f"INSERT INTO {_quote(meta.db_table)} ({columns}) SELECT {columns} FROM {_rows(model)}"
    return sql, fields


@functools.cache
def _update_sql(model, names: tuple[str, ...]) -> tuple[str, list]:
    meta = model._meta
    fields = [meta.pk] + [meta.get_field(name) for name in names]
    columns = [_quote(f.column) for f in fields]
    sql = (
        f"UPDATE {_quote(meta.db_table)} AS t "
        f"SET {', '.join(f'{c} = v.{c}' for c in columns[1:])} "
        f"FROM {_rows(model)} AS v WHERE t.{columns[0]} = v.{columns[0]}"
    )
    return sql, fields


def _rows(model) -> str:
    """The rows of a `_document` parameter, typed as the model's table."""
    return f"jsonb_populate_recordset(NULL::{_quote(model._meta.db_table)}, %s::jsonb)"
