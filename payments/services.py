"""Payment writes. Every gateway call follows the same three steps:

1. a short transaction locks the payment, checks the rules and writes the intent
   (a `GatewayCall`, and for refunds a `pending` Refund that holds its share of the
   ceiling), then commits;
2. the gateway is called with no transaction open, so no row lock is held while
   waiting on the network (refused if the caller has a transaction open);
3. a second short transaction stores the answer, then moves the state.

A retry while the call is still unanswered raises OperationInProgress (a retryable
GatewayError); after a crash between 2 and 3, once IN_FLIGHT_GRACE has passed, a
retry repeats the call with the same idempotency key, which the gateway deduplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from config.errors import detail

from .errors import (
    CaptureExceedsAuthorized,
    GatewayRefused,
    IdempotencyKeyReused,
    InvalidAmount,
    InvalidIdempotencyKey,
    OperationInProgress,
    PartialCaptureNotSupported,
    PaymentNotFound,
    RefundExceedsCaptured,
    TransitionNotAllowed,
)
from .gateways import EventType, GatewayResult, WebhookEvent, get_gateway
from .models import (
    ZERO,
    GatewayCall,
    GatewayOperation,
    Payment,
    PaymentStatus,
    PaymentWebhookEvent,
    Refund,
    RefundStatus,
)

logger = logging.getLogger(__name__)

# The orders task told about payments moved by a gateway webhook (see _notify_order).
ORDER_SYNC_TASK = "orders.tasks.order_sync_payment"
# An unanswered call younger than this is assumed to be still running elsewhere.
IN_FLIGHT_GRACE = timedelta(minutes=2)
CENT = Decimal("0.01")
MAX_KEY_LENGTH = 200


# --- creating and authorizing -----------------------------------------------------------


def payment_create(
    *, order, method: str, token: str, amount: Decimal, currency: str, gateway: str
) -> Payment:
    """Called inside the order's placing transaction; talks to no gateway."""
    payment = Payment(
        order=order,
        method=method,
        token=token or "",
        amount=_money(amount, allow_zero=True),
        currency=currency.upper(),
        gateway=gateway,
    )
    if payment.is_cash:
        payment.reference = f"cod-{order.number or payment.uid}"
    payment.save()
    return payment


def payment_authorize(*, payment_id: int) -> Payment:
    """pending → authorized | failed. Safe to repeat: a payment that has left
    `pending` is returned as is; cash on delivery has nothing to authorize and stays
    `pending`. Raises GatewayError on transient trouble, for the task to retry."""
    payment = _get(payment_id)
    if payment.status != PaymentStatus.PENDING or payment.is_cash:
        return payment
    key = f"{payment.uid}:authorize"
    with transaction.atomic():
        payment = _lock(payment_id)
        if payment.status != PaymentStatus.PENDING:
            return payment
        call, needed = _claim(
            payment=payment, operation=GatewayOperation.AUTHORIZE, key=key, amount=payment.amount
        )
    gateway = get_gateway(payment.gateway)
    order_number = _order_number(payment)
    result = _perform(
        call,
        needed,
        lambda: gateway.authorize(
            amount=payment.amount,
            currency=payment.currency,
            token=payment.token,
            idempotency_key=key,
            metadata={"order": order_number, "payment": str(payment.uid)},
        ),
    )
    release_hold = False
    with transaction.atomic():
        payment = _lock(payment_id)
        _complete(call, result)
        now = timezone.now()
        if payment.status == PaymentStatus.PENDING:
            if result.ok:
                payment.authorize(
                    amount=result.amount or payment.amount,
                    reference=result.reference,
                    risk_score=result.risk_score,
                    at=now,
                )
                if result.status == "captured":  # the gateway captured at once
                    payment.capture(amount=payment.amount_authorized, at=now)
            else:
                payment.fail(
                    decline_code=result.decline_code or result.status,
                    message=result.message or "The payment was declined.",
                )
            payment.save()
        elif result.ok and payment.status == PaymentStatus.VOIDED:
            # Voided (order cancelled) while the gateway was authorizing: let the hold go.
            release_hold = True
    if release_hold:
        _release_orphan_authorization(payment, result)
    return payment


def _release_orphan_authorization(payment: Payment, result: GatewayResult) -> None:
    key = f"{payment.uid}:void"
    with transaction.atomic():
        locked = _lock(payment.pk)
        call, needed = _claim(
            payment=locked,
            operation=GatewayOperation.VOID,
            key=key,
            note="voided while authorizing",
        )
    gateway = get_gateway(payment.gateway)
    try:
        outcome = _perform(
            call, needed, lambda: gateway.void(reference=result.reference, idempotency_key=key)
        )
    except Exception:
        logger.exception("could not void the orphan authorization of payment %s", payment.pk)
        return
    with transaction.atomic():
        _complete(call, outcome)
    if not outcome.ok:
        logger.error("gateway refused to void orphan authorization of payment %s", payment.pk)


# --- capture and void ---------------------------------------------------------------------


def payment_capture(*, payment_id: int, amount: Decimal, actor, idempotency_key: str) -> Payment:
    """Capture `amount` (partial allowed, adding up to at most the authorized amount).
    For cash on delivery this records cash collected. The same key twice captures once."""
    amount = _money(amount)
    key = f"{_uid(payment_id)}:capture:{_caller_key(idempotency_key)}"
    with transaction.atomic():
        payment = _lock(payment_id)
        existing = GatewayCall.objects.filter(idempotency_key=key).first()
        if existing is not None and existing.done:
            _check_same_request(existing, payment, GatewayOperation.CAPTURE, amount)
            return _capture_outcome(payment, existing)
        if existing is None:
            _check_capture(payment, amount)
        call, needed = _claim(
            payment=payment,
            operation=GatewayOperation.CAPTURE,
            key=key,
            amount=amount,
            actor=actor,
        )
        final = payment.amount_captured + amount >= (
            payment.amount if payment.is_cash else payment.amount_authorized
        )
    gateway = get_gateway(payment.gateway)
    result = _perform(
        call,
        needed,
        lambda: gateway.capture(
            reference=payment.reference,
            amount=amount,
            currency=payment.currency,
            idempotency_key=key,
            final=final or not gateway.supports_multiple_captures,
        ),
    )
    with transaction.atomic():
        payment = _lock(payment_id)
        call = _complete(call, result)
        if result.ok:
            payment.capture(amount=amount, at=timezone.now())
            payment.save()
    return _capture_outcome(payment, call)


def _check_capture(payment: Payment, amount: Decimal) -> None:
    allowed_from = (
        (PaymentStatus.PENDING, PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
        if payment.is_cash
        else (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
    )
    if payment.status not in allowed_from:
        raise TransitionNotAllowed(f"A {payment.status} payment cannot be captured.")
    in_flight = _sum(payment.gateway_calls.filter(operation=GatewayOperation.CAPTURE, ok=None))
    ceiling = payment.amount if payment.is_cash else payment.amount_authorized
    remaining = ceiling - payment.amount_captured - in_flight
    gateway = get_gateway(payment.gateway)
    if not gateway.supports_multiple_captures and (payment.amount_captured or in_flight):
        raise PartialCaptureNotSupported(
            f"The {gateway.name} gateway allows one capture per payment; it was made already."
        )
    if amount > remaining:
        raise CaptureExceedsAuthorized(
            f"Only {remaining} {payment.currency} is left to capture.",
            details=[detail("amount", "CAPTURE_EXCEEDS_AUTHORIZED", f"At most {remaining}.")],
        )
    if not gateway.supports_partial_capture and amount != remaining:
        raise PartialCaptureNotSupported(
            f"The {gateway.name} gateway captures only the full {remaining} {payment.currency}."
        )


def _capture_outcome(payment: Payment, call: GatewayCall) -> Payment:
    if not call.ok:
        raise GatewayRefused(
            call.response.get("message") or "The gateway refused the capture.",
            details=[
                detail(
                    None,
                    call.response.get("decline_code") or call.status,
                    call.response.get("message", ""),
                )
            ],
        )
    return payment


def payment_void(*, payment_id: int, actor, reason: str) -> Payment:
    """Release an authorization (or drop a payment nothing was taken for yet).
    Money already captured is given back with `payment_refund`, not here."""
    key = f"{_uid(payment_id)}:void"
    with transaction.atomic():
        payment = _lock(payment_id)
        if payment.status == PaymentStatus.VOIDED:
            return payment
        if payment.status == PaymentStatus.PENDING:
            # Nothing held at the gateway (cash, or not authorized yet; an authorization
            # still in flight releases itself when it finds the payment voided).
            payment.void(reason=reason)
            payment.save()
            return payment
        if payment.status != PaymentStatus.AUTHORIZED:
            raise TransitionNotAllowed(
                f"A {payment.status} payment cannot be voided; refund what was captured."
            )
        call, needed = _claim(
            payment=payment, operation=GatewayOperation.VOID, key=key, actor=actor, note=reason
        )
    gateway = get_gateway(payment.gateway)
    result = _perform(
        call, needed, lambda: gateway.void(reference=payment.reference, idempotency_key=key)
    )
    with transaction.atomic():
        payment = _lock(payment_id)
        _complete(call, result)
        if result.ok and payment.status == PaymentStatus.AUTHORIZED:
            payment.void(reason=reason)
            payment.save()
    if not result.ok:
        raise GatewayRefused(result.message or "The gateway refused to void the payment.")
    return payment


# --- refunds ---------------------------------------------------------------------------------


def payment_refund(
    *,
    payment_id: int,
    amount: Decimal,
    reason: str,
    actor,
    idempotency_key: str,
    source: str = "",
) -> Refund:
    """Refund part or all of what was captured. Never more than captured − refunded −
    refunds still pending, even when called concurrently. The same key twice gives the
    same Refund and one gateway call. A refund the gateway refuses ends `failed` (and
    frees its share); a transient error leaves it `pending` and raises GatewayError."""
    amount = _money(amount)
    idempotency_key = _caller_key(idempotency_key)
    with transaction.atomic():
        payment = _lock(payment_id)
        refund = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if refund is not None:
            if refund.payment_id != payment.pk or refund.amount != amount:
                raise IdempotencyKeyReused("This idempotency key was used for a different refund.")
            if refund.status != RefundStatus.PENDING:
                return refund
        else:
            _check_refund(payment, amount)
            refund = Refund.objects.create(
                payment=payment,
                amount=amount,
                currency=payment.currency,
                reason=reason[:255],
                source=source[:100],
                actor=actor if getattr(actor, "pk", None) else None,
                idempotency_key=idempotency_key,
            )
        key = f"{payment.uid}:refund:{idempotency_key}"
        call, needed = _claim(
            payment=payment,
            operation=GatewayOperation.REFUND,
            key=key,
            amount=amount,
            actor=actor,
            note=reason,
        )
    gateway = get_gateway(payment.gateway)
    result = _perform(
        call,
        needed,
        lambda: gateway.refund(
            reference=payment.reference,
            amount=amount,
            currency=payment.currency,
            idempotency_key=key,
        ),
    )
    with transaction.atomic():
        payment = _lock(payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        _complete(call, result)
        if refund.status == RefundStatus.PENDING:
            now = timezone.now()
            if result.ok:
                refund.succeed(reference=result.reference, at=now)
                payment.refund(amount=refund.amount)
                payment.save()
            else:
                refund.fail(message=result.message or result.decline_code or "refused", at=now)
            refund.save()
    return refund


def _check_refund(payment: Payment, amount: Decimal) -> None:
    if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        raise TransitionNotAllowed(f"A {payment.status} payment has nothing captured to refund.")
    available = payment.amount_captured - payment.amount_refunded - _pending_refunds(payment)
    if amount > available:
        raise RefundExceedsCaptured(
            f"At most {available} {payment.currency} can be refunded.",
            details=[detail("amount", "REFUND_EXCEEDS_CAPTURED", f"At most {available}.")],
        )


def _pending_refunds(payment: Payment) -> Decimal:
    return _sum(payment.refunds.filter(status=RefundStatus.PENDING))


# --- webhooks --------------------------------------------------------------------------------


def payment_apply_webhook(*, gateway: str, event: WebhookEvent) -> Payment | None:
    """Move a payment as the gateway reports. Returns the payment it changed or
    looked at; None for an event seen before or about a payment we do not know.
    Amounts on events are cumulative, so late or repeated news cannot double-count."""
    with transaction.atomic():
        payment = None
        if event.reference:
            payment = (
                Payment.objects.select_for_update()
                .filter(gateway=gateway, reference=event.reference)
                .first()
            )
        seen, created = PaymentWebhookEvent.objects.get_or_create(
            gateway=gateway,
            event_id=event.id,
            defaults={
                "type": event.type[:64],
                "reference": event.reference[:255],
                "payment": payment,
                "payload": event.data,
            },
        )
        if not created:
            return None
        if payment is None:
            seen.outcome = "unknown_payment"
            seen.save(update_fields=["outcome"])
            return None
        seen.outcome = _apply_event(payment, event, gateway)
        seen.save(update_fields=["outcome"])
        if seen.outcome == "applied":
            _notify_order(payment.order_id)
        return payment


def _notify_order(order_id: int) -> None:
    """Tell the orders app, by task name (payments never imports orders), that its
    payment moved, e.g. so it can copy the status onto the order. Skipped while no
    such task is registered."""
    from celery import current_app

    name = getattr(settings, "PAYMENTS_ORDER_SYNC_TASK", ORDER_SYNC_TASK)
    task = current_app.tasks.get(name)
    if task is not None:
        task.delay_on_commit(order_id)


def _apply_event(payment: Payment, event: WebhookEvent, gateway: str) -> str:
    now = timezone.now()
    status = payment.status
    if event.type == EventType.AUTHORIZED and status == PaymentStatus.PENDING:
        amount = event.amount or payment.amount
        payment.authorize(amount=amount, reference=event.reference, risk_score=None, at=now)
    elif event.type == EventType.CAPTURED and event.amount is not None:
        if status == PaymentStatus.PENDING and not payment.is_cash:
            payment.authorize(
                amount=event.amount, reference=event.reference, risk_score=None, at=now
            )
        in_flight = _sum(payment.gateway_calls.filter(operation=GatewayOperation.CAPTURE, ok=None))
        missing = event.amount - payment.amount_captured - in_flight
        if missing <= 0 or payment.amount_captured + missing > payment.amount_authorized:
            return "ignored"
        payment.capture(amount=missing, at=now)
    elif event.type == EventType.FAILED and status == PaymentStatus.PENDING:
        payment.fail(decline_code="gateway_failed", message=f"Reported by {gateway}.")
    elif event.type == EventType.VOIDED and status in (
        PaymentStatus.PENDING,
        PaymentStatus.AUTHORIZED,
    ):
        payment.void(reason=f"reported by {gateway}")
    elif event.type == EventType.REFUNDED and event.amount is not None:
        known = payment.amount_refunded + _pending_refunds(payment)
        missing = event.amount - known
        if (
            missing <= 0
            or status
            not in (
                PaymentStatus.CAPTURED,
                PaymentStatus.PARTIALLY_REFUNDED,
            )
            or known + missing > payment.amount_captured
        ):
            return "ignored"
        # Refunded outside Orderly (the gateway's dashboard): record it.
        refund = Refund(
            payment=payment,
            amount=missing,
            currency=payment.currency,
            reason="refunded at the gateway",
            source=f"gateway:{gateway}",
            idempotency_key=f"webhook:{gateway}:{event.id}",
        )
        refund.succeed(reference="", at=now)
        refund.save()
        payment.refund(amount=missing)
    else:
        return "ignored"
    payment.save()
    return "applied"


# --- helpers -----------------------------------------------------------------------------------


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


def _get(payment_id: int) -> Payment:
    try:
        return Payment.objects.get(pk=payment_id)
    except Payment.DoesNotExist:
        raise PaymentNotFound() from None


def _lock(payment_id: int) -> Payment:
    # No select_related: FOR UPDATE would lock the joined order row too.
    try:
        return Payment.objects.select_for_update().get(pk=payment_id)
    except Payment.DoesNotExist:
        raise PaymentNotFound() from None


def _uid(payment_id: int) -> str:
    uid = Payment.objects.filter(pk=payment_id).values_list("uid", flat=True).first()
    if uid is None:
        raise PaymentNotFound()
    return str(uid)


def _order_number(payment: Payment) -> str:
    from django.apps import apps  # payments never imports orders

    order_model = apps.get_model("orders", "Order")
    return order_model.objects.filter(pk=payment.order_id).values_list("number", flat=True).first()


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
    call, created = GatewayCall.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "payment": payment,
            "gateway": payment.gateway,
            "operation": operation,
            "amount": amount,
            "actor": actor if getattr(actor, "pk", None) else None,
            "note": note[:255],
        },
    )
    if not created:
        _check_same_request(call, payment, operation, amount)
        if call.done:
            return call, False
        if not call.error and call.started_at and now - call.started_at < IN_FLIGHT_GRACE:
            raise OperationInProgress(f"{operation} {key} is in progress")
    call.attempts += 1
    call.started_at = now
    call.error = ""
    call.save(update_fields=["attempts", "started_at", "error"])
    return call, True


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
    """Store the gateway's answer once; later answers for the same key are ignored."""
    fresh = GatewayCall.objects.select_for_update().get(pk=call.pk)
    if fresh.done:
        return fresh
    fresh.ok = result.ok
    fresh.status = result.status
    fresh.reference = result.reference
    fresh.response = {
        "amount": str(result.amount),
        "risk_score": result.risk_score,
        "decline_code": result.decline_code,
        "message": result.message,
        "raw": result.raw,
    }
    fresh.error = ""
    fresh.completed_at = timezone.now()
    fresh.save()
    return fresh


def _in_transaction() -> bool:
    """True inside an atomic block of ours; the per-test transaction pytest-django
    (Django's TestCase) wraps around non-transactional tests does not count."""
    blocks = getattr(connection, "atomic_blocks", None)
    if blocks is None:
        return connection.in_atomic_block
    return any(not getattr(block, "_from_testcase", False) for block in blocks)
