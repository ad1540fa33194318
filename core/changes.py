"""What a change touched, for rows a service has locked and changed (a
transition): written with `core.sql.write_together`, the UPDATE names a
handful of columns instead of all of them."""

from __future__ import annotations

from django.db.models import Model


def field_values(obj: Model) -> dict:
    """The row's column values now: take it right after locking the row."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def changed_fields(obj: Model, before: dict) -> list[str]:
    """The fields of `obj` that differ from `before` (`field_values`, taken
    when it was locked), with its auto_now stamps; none when nothing changed."""
    fields = obj._meta.concrete_fields
    changed = [f.name for f in fields if getattr(obj, f.attname) != before[f.attname]]
    if not changed:
        return []
    return changed + [
        f.name for f in fields if getattr(f, "auto_now", False) and f.name not in changed
    ]
