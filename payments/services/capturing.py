"""Capturing authorized money (in parts where the gateway allows it); for cash on
delivery, recording the cash collected."""

from __future__ import annotations

from decimal import Decimal

from celery import current_app
from django.db import transaction
from django.utils import timezone

from core.errors import detail

from ..errors import (
    CaptureExceedsAuthorized,
    GatewayRefused,
    PartialCaptureNotSupported,
    TransitionNotAllowed,
)
from ..gateways import get_gateway
from ..models import GatewayCall, GatewayOperation, Payment, PaymentStatus
from .gateway_calls import (
    _caller_key,
    _check_same_request,
    _claim,
    _complete,
    _lock,
    _money,
    _perform,
    _sum,
    _uid,
)


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
            _enqueue_documents(payment.pk)
    return _capture_outcome(payment, call)


def _check_capture(payment: Payment, amount: Decimal) -> None:
    cash_allowed = (PaymentStatus.PENDING, PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
    allowed = payment.status in cash_allowed if payment.is_cash else payment.open_for_capture
    if not allowed:
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


def _enqueue_documents(payment_id: int) -> None:
    # invoicing sits above payments: enqueue its task by name once the money moved for good
    # (a signature by name, unlike send_task, honours eager mode in tests and the quick start).
    transaction.on_commit(
        lambda: current_app.signature(
            "invoicing.tasks.documents_issue_for_payment", args=[payment_id]
        ).delay(),
        robust=True,  # a failed enqueue never fails the capture; the invoicing sweep catches up
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
