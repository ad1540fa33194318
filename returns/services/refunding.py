"""Issuing a processed return's refund: the body of the `return_refund` task.

Three steps, as payments requires (no transaction open around the gateway):
1. plan, under the order's and the return's locks: compute and keep the amount
   due (once), choose the idempotency key, cap at what the payment still has;
2. `payment_refund`, which re-checks the ceiling under the payment's lock;
3. finish, under the locks again: the return ends `refunded`, the order and
   the customer hear about it.
Idempotent: the key comes from the return number, so a redelivered task finds
its Refund and never refunds twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from orders.models import Order
from orders.services.refunds import order_refund_record
from payments.errors import OperationInProgress, RefundExceedsCaptured
from payments.models import Payment, Refund, RefundStatus
from payments.selectors import payment_refundable_amount
from payments.services import payment_refund

from ..models import ReturnLine, ReturnRequest, ReturnStatus
from .amounts import ZERO, OrderMoney, goods_refund, shipping_refund
from .common import return_event_record, return_lock

logger = logging.getLogger(__name__)
PLAN_TRIES = 3


@dataclass(frozen=True)
class _Plan:
    payment_id: int | None
    amount: Decimal
    key: str
    actor: object
    reason: str
    source: str


def _units(lines) -> list[tuple[Decimal, int]]:
    return [(line.order_line.unit_price, line.quantity_received) for line in lines]


def _allot(order: Order, rr: ReturnRequest) -> None:
    """Compute the amount due for this return, once (see amounts.py)."""
    earlier = ReturnRequest.objects.filter(order=order, refund_goods__isnull=False).exclude(
        pk=rr.pk
    )
    figures = OrderMoney.of(order)
    rr.refund_goods = goods_refund(
        figures,
        earlier_units=_units(
            ReturnLine.objects.filter(return_request__in=earlier).select_related("order_line")
        ),
        earlier_refunded=earlier.aggregate(total=Sum("refund_goods"))["total"] or ZERO,
        units=_units(rr.lines.select_related("order_line")),
    )
    rr.refund_shipping = shipping_refund(
        figures,
        reason=rr.reason,
        shipping_already_refunded=earlier.filter(refund_shipping__gt=0).exists(),
    )


def _key(rr: ReturnRequest) -> tuple[str, Refund | None]:
    """`return:RMA-000001`; after a refund the gateway refused, a fresh key
    (`…:1`, `…:2`) so asking again really asks again."""
    while True:
        key = f"return:{rr.number}" + (f":{rr.refund_attempt}" if rr.refund_attempt else "")
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is None or existing.status != RefundStatus.FAILED:
            return key, existing
        rr.refund_attempt += 1


@transaction.atomic
def _plan(return_id: int) -> _Plan | None:
    order, rr = return_lock(return_id)
    if rr.status != ReturnStatus.PROCESSED or rr.replacement_order_id:
        # Refunded already (a redelivered task), not ready, or settled by a replacement.
        return None
    if rr.refund_goods is None:
        _allot(order, rr)
    payment = Payment.objects.filter(order_id=order.pk).first()
    key, existing = _key(rr)
    if existing is not None:
        amount = existing.amount  # resume the refund already started with this key
    else:
        room = payment_refundable_amount(payment)
        amount = min(rr.refund_due, room)
        rr.refund_note = (
            ""
            if amount == rr.refund_due
            else f"capped: {rr.refund_due} due, only {room} {order.currency} left to refund"
        )
    rr.save()
    return _Plan(
        payment_id=payment.pk if payment else None,
        amount=amount,
        key=key,
        actor=rr.refund_requested_by,
        reason=f"return {rr.number} ({rr.reason})",
        source=f"return:{rr.number}",
    )


@transaction.atomic
def _finish(return_id: int, refund: Refund | None) -> ReturnRequest:
    order, rr = return_lock(return_id)
    if rr.status != ReturnStatus.PROCESSED:
        return rr
    actor = rr.refund_requested_by
    if refund is not None and refund.status != RefundStatus.SUCCEEDED:
        rr.refund_error = (refund.failure_message or "refused by the gateway")[:500]
        rr.save(update_fields=["refund_error", "updated_at"])
        return_event_record(
            rr=rr,
            from_status=rr.status,
            to_status=rr.status,
            actor=actor,
            reason=f"refund failed: {rr.refund_error}",
        )
        return rr
    amount = refund.amount if refund is not None else ZERO
    rr.refund = refund
    rr.mark_refunded(amount=amount, at=timezone.now())
    rr.save()
    note = f" ({rr.refund_note})" if rr.refund_note else ""
    return_event_record(
        rr=rr,
        from_status=ReturnStatus.PROCESSED,
        to_status=rr.status,
        actor=actor,
        reason=f"refunded {amount} {order.currency}{note}",
    )
    if refund is not None:
        order_refund_record(
            order_id=order.pk, refund=refund, actor=actor, reason=f"return {rr.number}"
        )
    return rr


def return_refund_issue(*, return_id: int) -> ReturnRequest:
    """Refund a processed return (see the module docstring). Raises GatewayError
    (retryable) when the gateway is unreachable or the same refund is in flight."""
    for _ in range(PLAN_TRIES):
        plan = _plan(return_id)
        if plan is None:
            return ReturnRequest.objects.get(pk=return_id)
        if plan.amount <= 0:
            return _finish(return_id, None)  # nothing was captured, or nothing is left
        try:
            refund = payment_refund(
                payment_id=plan.payment_id,
                amount=plan.amount,
                reason=plan.reason,
                actor=plan.actor,
                idempotency_key=plan.key,
                source=plan.source,
            )
        except RefundExceedsCaptured:
            # Another refund of this order took part of the ceiling after we
            # planned (before our Refund row existed): plan again with less.
            logger.info("refund ceiling moved under return %s; replanning", return_id)
            continue
        return _finish(return_id, refund)
    raise OperationInProgress(f"the refund ceiling of return {return_id} kept moving")
