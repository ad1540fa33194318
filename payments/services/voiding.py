"""Voiding: releasing an authorization, or dropping a payment nothing was taken for yet."""

from __future__ import annotations

from django.db import transaction

from ..errors import GatewayRefused, TransitionNotAllowed
from ..gateways import get_gateway
from ..models import GatewayOperation, Payment, PaymentStatus
from .gateway_calls import _claim, _complete, _lock, _perform, _uid


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
