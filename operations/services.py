"""Operations writes: record processing errors and step timings, resolve errors.

`error_record`, `error_resolve_on_success` and `timing_record` are called from
other apps' failure and success paths, so they never raise into the caller: a
problem writing the record is logged (with the full error) and None is returned.

An error recorded inside the caller's `transaction.atomic()` must survive that
transaction rolling back (the usual case: recorded from an `except` block just
before the block re-raises). On PostgreSQL it is therefore written through a
short-lived connection of its own, which commits at once. A test case's own
wrapping transaction does not count as the caller's: there the row is written
on the test's connection, so tests stay isolated. On SQLite (the quick start)
a second connection would wait on the caller's write lock, so the row is written
in a savepoint of the caller's transaction and shares its fate.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, connections, router, transaction
from django.db.models import F
from django.db.utils import load_backend
from django.utils import timezone

from core.errors import NotFound, ValidationFailed, detail
from core.sql import upsert

from .models import ErrorCategory, ProcessingError, Severity, StepTiming
from .selectors import errors_for_order, timing_percentiles, unresolved_error_counts

__all__ = [
    "error_record",
    "error_resolve",
    "error_resolve_on_success",
    "errors_for_order",
    "timing_percentiles",
    "timing_record",
    "timings_record",
    "unresolved_error_counts",
]

logger = logging.getLogger(__name__)

# The side connection: registered under this alias only while it writes.
SIDE_ALIAS = "operations_side"
SIDE_CONNECT_TIMEOUT_SECONDS = 3
# Never wait long on a lock the caller's own transaction might hold.
SIDE_LOCK_TIMEOUT_MS = 2000
SIDE_STATEMENT_TIMEOUT_MS = 5000

MAX_MESSAGE_LENGTH = 10_000
SUCCESS_NOTE = "The step succeeded on a later attempt."


# --- processing errors ---------------------------------------------------------------------


def error_record(
    *,
    category: str,
    step: str,
    message: Any,
    order=None,
    order_id: int | None = None,
    reference: str = "",
    severity: str = Severity.ERROR,
    details: Any = None,
) -> ProcessingError | None:
    """Record a failed step. The same failure of the same step for the same object
    (category, step, order, reference; plus the message when there is neither order
    nor reference) while still unresolved bumps `attempts` and `last_seen_at` and
    keeps the latest message, severity and details.

    Never raises; returns None if the record could not be written (and logs it).
    Survives a rollback of the caller's transaction (see the module docstring).
    """
    try:
        values = _error_values(
            category=category,
            step=step,
            message=message,
            order=order,
            order_id=order_id,
            reference=reference,
            severity=severity,
            details=details,
        )
    except Exception:
        logger.exception("could not record processing error %s/%s: %s", category, step, message)
        return None
    try:
        using = router.db_for_write(ProcessingError)
        connection = connections[using]
        if connection.vendor == "postgresql" and _inside_callers_transaction(connection):
            try:
                with _side_connection(using) as side_alias:
                    error = _error_upsert(values, using=side_alias)
                error._state.db = using  # the side alias is gone; the row is in `using`
                return error
            except Exception:
                logger.warning(
                    "processing error not written on a connection of its own; "
                    "writing it in the caller's transaction",
                    exc_info=True,
                )
        return _error_upsert(values, using=using)
    except Exception:
        logger.exception(
            "could not record processing error %s/%s (order %s, reference %r, "
            "severity %s): %s details=%s",
            values["category"],
            values["step"],
            values["order_id"],
            values["reference"],
            values["severity"],
            values["message"],
            values["details"],
        )
        return None


def error_resolve(*, error_id: int, actor, note: str) -> ProcessingError:
    """Mark an error resolved by `actor` (a user, or None for the system) with a
    note. Resolving an already resolved error changes nothing and returns it.
    Raises NotFound, or ValidationFailed for an empty note."""
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(
            "A resolution note is required.",
            details=[detail("note", "REQUIRED", "Say what was done about the error.")],
        )
    if actor is not None and not getattr(actor, "pk", None):
        actor = None  # an anonymous user is nobody in particular
    with transaction.atomic():
        error = ProcessingError.objects.select_for_update().filter(pk=error_id).first()
        if error is None:
            raise NotFound("No such processing error.")
        if error.resolved:
            return error
        error.resolve(actor=actor, note=note, at=timezone.now())
        error.save(update_fields=["resolved", "resolved_by", "resolved_at", "resolution_note"])
    return error


def error_resolve_on_success(
    *,
    step: str,
    order=None,
    order_id: int | None = None,
    reference: str = "",
    categories: tuple[str, ...] = (),
) -> int:
    """A step that failed before has now succeeded for this object: resolve its
    open errors (of `categories`, or every category) as done by the system.
    Returns how many.

    Written in the caller's transaction, so it is undone if the caller rolls back
    (then the step did not succeed after all). Never raises."""
    try:
        if order is not None and order_id is None:
            order_id = getattr(order, "pk", None)
        if order_id is None and not reference:
            return 0
        # Plain SQL: every successful worker step runs it, and the ORM's
        # compile cost more than the statement.
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        params = [True, now, SUCCESS_NOTE, str(step)[:64], str(reference or "")[:255], False]
        sql = _RESOLVE_ON_SUCCESS + (
            " AND order_id IS NULL" if order_id is None else " AND order_id = %s"
        )
        if order_id is not None:
            params.append(order_id)
        if categories:
            sql += f" AND category IN ({', '.join(['%s'] * len(categories))})"
            params += categories
        with _own_savepoint(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount
    except Exception:
        logger.exception(
            "could not resolve processing errors of step %s (order %s, reference %r)",
            step,
            order_id,
            reference,
        )
        return 0


_RESOLVE_ON_SUCCESS = (
    f"UPDATE {ProcessingError._meta.db_table} SET resolved = %s, resolved_by_id = NULL, "
    "resolved_at = %s, resolution_note = %s WHERE step = %s AND reference = %s AND resolved = %s"
)


# --- step timings --------------------------------------------------------------------------


def timing_record(
    *, order_id: int, step: str, milliseconds: float | timedelta
) -> StepTiming | None:
    """Record how long `step` took for an order (a number of milliseconds or a
    timedelta). Recording the same step again overwrites it. A small negative
    duration (clocks of two machines) counts as 0. Written in the caller's
    transaction; never raises, returns None if nothing was written."""
    written = timings_record(order_id=order_id, timings={step: milliseconds})
    return written[0] if written else None


def timings_record(*, order_id: int, timings: dict[str, float | timedelta]) -> list[StepTiming]:
    """`timing_record` for several steps of one order in one statement (a worker
    step records three: queue wait, payment, the step itself). Values that are
    not numbers are logged and left out. Never raises."""
    rows = []
    for step, milliseconds in timings.items():
        try:
            if isinstance(milliseconds, timedelta):
                value = milliseconds.total_seconds() * 1000
            else:
                value = float(milliseconds)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            logger.warning("timing of step %s for order %s is not a number", step, order_id)
            continue
        rows.append(
            StepTiming(
                order_id=order_id,
                step=str(step)[:64],
                milliseconds=max(value, 0.0),
                recorded_at=timezone.now(),
            )
        )
    if not rows:
        return []
    try:
        # One upsert (INSERT ... ON CONFLICT DO UPDATE): this sits on the
        # confirming path.
        with _own_savepoint():
            upsert(rows, unique=["order", "step"], update=["milliseconds", "recorded_at"])
            return rows
    except Exception:
        logger.exception("could not record timings %s for order %s", timings, order_id)
        return []


# --- internals -----------------------------------------------------------------------------


def _own_savepoint():
    """For one best-effort statement: a savepoint inside the caller's transaction
    (a failure then undoes only this), nothing outside one (the statement commits
    on its own; a transaction would cost a second round trip)."""
    if transaction.get_connection().in_atomic_block:
        return transaction.atomic()
    return nullcontext()


class _LenientJSONEncoder(DjangoJSONEncoder):
    def default(self, o):
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _jsonable(details: Any) -> dict:
    if details is None:
        return {}
    if not isinstance(details, dict):
        details = {"value": details}
    return json.loads(json.dumps(details, cls=_LenientJSONEncoder))


def _error_values(
    *, category, step, message, order, order_id, reference, severity, details
) -> dict:
    details = _jsonable(details)
    if order is not None and order_id is None:
        order_id = getattr(order, "pk", None)
    if order_id is not None:
        try:
            order_id = int(order_id)
        except (TypeError, ValueError):
            details.setdefault("order_id", str(order_id))
            order_id = None
    category = str(category or "")
    if category not in ErrorCategory.values:
        details.setdefault("category", category)
        category = ErrorCategory.OTHER
    severity = str(severity or "")
    if severity not in Severity.values:
        details.setdefault("severity", severity)
        severity = Severity.ERROR
    step = str(step or "")[:64] or "unknown"
    reference = str(reference or "")[:255]
    message = str(message or "")[:MAX_MESSAGE_LENGTH] or "(no message)"
    parts = [category, step, str(order_id or ""), reference]
    if order_id is None and not reference:
        parts.append(message)
    fingerprint = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return {
        "category": str(category),
        "severity": str(severity),
        "order_id": order_id,
        "reference": reference,
        "step": step,
        "message": message,
        "details": details,
        "fingerprint": fingerprint,
    }


def _error_upsert(values: dict, *, using: str) -> ProcessingError:
    manager = ProcessingError.objects.db_manager(using)
    fingerprint = values["fingerprint"]
    for _ in range(3):
        with transaction.atomic(using=using):
            now = timezone.now()
            bumped = manager.filter(fingerprint=fingerprint, resolved=False).update(
                attempts=F("attempts") + 1,
                last_seen_at=now,
                severity=values["severity"],
                message=values["message"],
                details=values["details"],
            )
            if bumped:
                return manager.get(fingerprint=fingerprint, resolved=False)
            try:
                with transaction.atomic(using=using):
                    return manager.create(**values, first_seen_at=now, last_seen_at=now)
            except IntegrityError:
                continue  # a concurrent first occurrence won the insert: count ours on it
    raise RuntimeError(f"could not upsert processing error {fingerprint}")


def _inside_callers_transaction(connection) -> bool:
    """True inside a `transaction.atomic()` of the caller. A test case's own wrapping
    transaction does not count: writing inside it is what keeps tests isolated."""
    if not connection.in_atomic_block:
        return False
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


@contextmanager
def _side_connection(using: str):
    """A fresh autocommit connection to the same database, registered as
    SIDE_ALIAS for the ORM while it is used, then closed. It is never listed in
    `connections.all()`, so Django's request/task connection handling and test
    cases leave it alone."""
    settings_dict = copy.deepcopy(connections[using].settings_dict)
    options = settings_dict.setdefault("OPTIONS", {})
    options.pop("pool", None)  # a pool of its own would outlive this connection
    connect_timeout = options.get("connect_timeout") or SIDE_CONNECT_TIMEOUT_SECONDS
    options["connect_timeout"] = min(int(connect_timeout), SIDE_CONNECT_TIMEOUT_SECONDS)
    settings_dict.update(AUTOCOMMIT=True, ATOMIC_REQUESTS=False, CONN_MAX_AGE=0)
    backend = load_backend(settings_dict["ENGINE"])
    side = backend.DatabaseWrapper(settings_dict, SIDE_ALIAS)
    previous = getattr(connections._connections, SIDE_ALIAS, None)
    connections[SIDE_ALIAS] = side
    try:
        with side.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(SIDE_LOCK_TIMEOUT_MS)}")
            cursor.execute(f"SET statement_timeout = {int(SIDE_STATEMENT_TIMEOUT_MS)}")
        yield SIDE_ALIAS
    finally:
        if previous is not None:
            connections[SIDE_ALIAS] = previous
        else:
            del connections[SIDE_ALIAS]
        side.close()
