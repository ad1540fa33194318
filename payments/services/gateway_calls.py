"""The engine under every gateway call: `_claim` (step 1), `_perform` (step 2) and
`_complete` (step 3) of the protocol described in the package docstring
(payments/services/__init__.py), plus the lookups and input checks every service uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from core.sql import columns, for_update, insert_unless_taken, select_models

from ..errors import (
    IdempotencyKeyReused,
    InvalidAmount,
    InvalidIdempotencyKey,
    OperationInProgress,
    PaymentNotFound,
)
from ..gateways import GatewayResult
from ..models import ZERO, GatewayCall, Payment

# An unanswered call is assumed to be still running elsewhere until the gateway
# client has given up on every attempt (GATEWAY_TIMEOUT_SECONDS each, plus the
# SDK's network retries) and this margin has passed; after that nobody can still
# be waiting on it, and it may be repeated with the same idempotency key.
IN_FLIGHT_MARGIN = timedelta(seconds=5)


def in_flight_grace() -> timedelta:
    attempts = 1 + settings.GATEWAY_NETWORK_RETRIES
    return timedelta(seconds=settings.GATEWAY_TIMEOUT_SECONDS * attempts) + IN_FLIGHT_MARGIN


CENT = Decimal("0.01")
MAX_KEY_LENGTH = 200


def _money(value, *, allow_zero: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidAmount(f"{value!r} is not an amount.") from None
    if not amount.is_finite() or amount != amount.quantize(CENT, rounding="ROUND_DOWN"):
        raise InvalidAmount("Amounts have at most two decimals.")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidAmount("The amount must be positive.")
    return amount.quantize(CENT)


def _caller_key(key: str) -> str:
    # Room is left for the "<payment uid>:<operation>:" prefix of our gateway keys.
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(f"Use 1 to {MAX_KEY_LENGTH} characters.")
    return key


def _sum(queryset) -> Decimal:
    return queryset.aggregate(total=Sum("amount"))["total"] or ZERO


def _lock(payment_id: int, *, with_order_number: bool = False) -> Payment:
    """The payment, locked. `with_order_number` also reads its order's number
    (for the gateway's metadata) in the same statement, without locking the order.
    Plain SQL: every gateway call takes this lock twice, and the ORM's compile
    cost more than the statement."""
    sql = _LOCK_WITH_ORDER_NUMBER if with_order_number else _LOCK
    extra = ["order_number"] if with_order_number else []
    found = select_models(sql + for_update(of="p"), [payment_id], Payment, extra=extra)
    if not found:
        raise PaymentNotFound()
    return found[0]


_LOCK = f"SELECT {columns(Payment, 'p')} FROM {Payment._meta.db_table} p WHERE p.id = %s"
_LOCK_WITH_ORDER_NUMBER = (
    f"SELECT {columns(Payment, 'p')}, o.number FROM {Payment._meta.db_table} p "
    f"JOIN {Payment._meta.get_field('order').related_model._meta.db_table} o "
    "ON o.id = p.order_id WHERE p.id = %s"
)


def _uid(payment_id: int) -> str:
    uid = Payment.objects.filter(pk=payment_id).values_list("uid", flat=True).first()
    if uid is None:
        raise PaymentNotFound()
    return str(uid)


def _claim(
    *,
    payment: Payment,
    operation: str,
    key: str,
    amount: Decimal | None = None,
    actor=None,
    note: str = "",
) -> tuple[GatewayCall, bool]:
    """Inside the payment's lock: the call row for `key`, and whether to call now
    (False: it was answered before). Raises OperationInProgress when another worker
    is making this call right now."""
    now = timezone.now()
    call = GatewayCall(
        payment=payment,
        gateway=payment.gateway,
        operation=operation,
        idempotency_key=key,
        amount=amount,
        actor=actor if getattr(actor, "pk", None) else None,
        note=note[:255],
        attempts=1,
        started_at=now,
    )
    # Inserted first (one statement, every gateway call makes one), read only
    # when the key was used before: a repeat of this call.
    if insert_unless_taken(call, unique=["idempotency_key"]):
        return call, True
    [call] = select_models(_CALL_BY_KEY, [key], GatewayCall)
    _check_same_request(call, payment, operation, amount)
    if call.done:
        return call, False
    if not call.error and call.started_at and now - call.started_at < in_flight_grace():
        raise OperationInProgress(f"{operation} {key} is in progress")
    call.attempts += 1
    call.started_at = now
    call.error = ""
    call.save(update_fields=["attempts", "started_at", "error"])
    return call, True


_CALL_BY_KEY = (
    f"SELECT {columns(GatewayCall, 'c')} FROM {GatewayCall._meta.db_table} c "
    "WHERE idempotency_key = %s"
)


def _check_same_request(
    call: GatewayCall, payment: Payment, operation: str, amount: Decimal | None
) -> None:
    if call.payment_id != payment.pk or call.operation != operation or call.amount != amount:
        raise IdempotencyKeyReused("This idempotency key was used for a different request.")


def _perform(
    call: GatewayCall, needed: bool, request: Callable[[], GatewayResult]
) -> GatewayResult:
    """Make the gateway call (or reuse its stored answer) outside any transaction."""
    if not needed:
        return call.as_result()
    if _in_transaction():
        raise RuntimeError(
            "payments: gateway calls must not run inside a transaction; "
            "call this service after commit (e.g. from a task enqueued on commit)"
        )
    try:
        return request()
    except Exception as exc:
        GatewayCall.objects.filter(pk=call.pk).update(error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _complete(call: GatewayCall, result: GatewayResult) -> GatewayCall:
    """Store the gateway's answer once; later answers for the same key are ignored.
    One conditional UPDATE: a second completer waits on the row, then matches nothing."""
    answer = {
        "ok": result.ok,
        "status": result.status,
        "reference": result.reference,
        "response": {
            "amount": str(result.amount),
            "risk_score": result.risk_score,
            "decline_code": result.decline_code,
            "message": result.message,
            "raw": result.raw,
        },
        "error": "",
        "completed_at": timezone.now(),
    }
    meta = GatewayCall._meta
    values = [meta.get_field(name).get_db_prep_save(answer[name], connection) for name in _ANSWER]
    with connection.cursor() as cursor:  # plain SQL: every gateway call is answered once
        cursor.execute(_COMPLETE, [*values, call.pk])
        stored = cursor.rowcount
    if not stored:
        return GatewayCall.objects.get(pk=call.pk)
    for field, value in answer.items():
        setattr(call, field, value)
    return call


_ANSWER = ("ok", "status", "reference", "response", "error", "completed_at")
_COMPLETE = (
    f"UPDATE {GatewayCall._meta.db_table} SET "
    + ", ".join(f"{GatewayCall._meta.get_field(name).column} = %s" for name in _ANSWER)
    + " WHERE id = %s AND completed_at IS NULL"
)


def _in_transaction() -> bool:
    """True inside an atomic block of ours; the per-test transaction pytest-django
    (Django's TestCase) wraps around non-transactional tests does not count."""
    blocks = getattr(connection, "atomic_blocks", None)
    if blocks is None:
        return connection.in_atomic_block
    return any(not getattr(block, "_from_testcase", False) for block in blocks)
