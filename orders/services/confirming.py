"""The confirmation step (run by a worker) and the human review around it.

Gateway calls happen with no transaction open; only afterwards is the order
locked, re-checked and moved, so a redelivered message changes nothing twice."""

from __future__ import annotations

import contextlib
import time

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from core.changes import changed_fields, field_values
from core.errors import TransitionNotAllowed
from core.sql import columns, select_models, write_together
from inventory.services import stock_commit, stock_release
from operations.services import error_record, timings_record
from payments.errors import OperationInProgress
from payments.selectors import (
    payment_authorization_in_doubt,
    payment_refundable_amount,
)
from payments.services import payment_authorize, payment_refund, payment_void

from ..models import Order, OrderStatus
from ..selectors import order_lines_attach
from .events import order_event_build, order_event_record
from .holds import hold_record_at_confirmation, holds_release_all
from .locking import order_lock
from .notify import order_notify
from .payment_status import order_mirror_payment
from .promos import promo_return_use
from .risk import risk_assess

# What the customer reads when an order is held; the staff's history (and the
# review console) keeps the rules that tripped, which are not for the customer.
HELD_REASON = "held for review"
# An issuer's fraud verdict is not told to the buyer (card networks' and Stripe's
# advice): the customer reads a plain decline, staff read the code.
UNDISCLOSED_DECLINES = frozenset(
    {
        "fraudulent",
        "lost_card",
        "merchant_blacklist",
        "pickup_card",
        "restricted_card",
        "security_violation",
        "stolen_card",
    }
)


def _line_ids(order: Order) -> list[int]:
    # Through `lines.all()`, so lines already loaded with the order are not read again.
    return [line.pk for line in order.lines.all()]


def order_confirm(*, order_id: int, validation_ms: float | None = None) -> Order:
    """pending → confirmed | on_hold | cancelled. Safe to run twice.
    `validation_ms` is the placing request's own timing, recorded with this step's."""
    started = time.perf_counter()
    pending = _pending(order_id)
    if pending.status != OrderStatus.PENDING:
        return Order.objects.get(pk=order_id)
    # Recorded together, in one statement, once the outcome is committed.
    timings = {"queue_wait": timezone.now() - pending.created_at}
    if validation_ms is not None:
        timings["validation"] = validation_ms
    authorizing = time.perf_counter()
    # May raise GatewayError: the task retries.
    payment = payment_authorize(payment_id=pending.payment_id)
    timings["payment"] = (time.perf_counter() - authorizing) * 1000
    with transaction.atomic():
        # The customer's profile for the risk rules, read with the lock.
        order = order_lock(order_id, with_profile=True)
        locked = field_values(order)
        if order.status != OrderStatus.PENDING:
            # Cancelled while we were authorizing: give the money back.
            order_mirror_payment(order, payment)
            if order.status == OrderStatus.CANCELLED:
                _enqueue_settlement(order)
            timings_record(order_id=order.pk, timings=timings)
            return order
        # The lines, read once under the lock: the risk rules, the stock step
        # and the e-mail use them.
        order_lines_attach(order)
        # Assessed on the order as it is now (an edit may have landed while
        # the gateway answered).
        assessment = None
        if payment.status != "failed":
            assessment = risk_assess(order=order, gateway_risk=payment.risk_score)
        order_mirror_payment(order, payment, save=False)  # saved with the transition below
        now = timezone.now()
        from_status = order.status
        customer_reason = None  # the customer reads `reason` itself
        if assessment is None:
            reason = (
                f"payment declined: {payment.decline_code or payment.failure_message or 'declined'}"
            )
            if payment.decline_code in UNDISCLOSED_DECLINES:
                customer_reason = "payment declined"
            order.decline(reason=customer_reason or reason, at=now)
            error_record(
                category="payment",
                severity="warning",
                step="order_confirm",
                order_id=order.pk,
                message=reason,
                details={"decline_code": payment.decline_code},
            )
            stock_release(order_line_ids=_line_ids(order), reason=reason, reference=order.number)
            promo_return_use(order=order)
        else:
            order.risk_score = assessment.score
            order.risk_reasons = assessment.reasons
            if assessment.hold:
                order.hold(at=now)
                hold_record_at_confirmation(order=order, reason="high_risk", note=HELD_REASON)
                reason = f"{HELD_REASON}: " + "; ".join(
                    r["reason"] for r in assessment.reasons if r["points"]
                )
                customer_reason = HELD_REASON  # what tripped the rules is for reviewers only
            else:
                order.confirm(at=now)
                stock_commit(order_line_ids=_line_ids(order))
                reason = (
                    "payment authorized, risk acceptable"
                    if order.payment_method != "cod"
                    else "cash on delivery"
                )
        event = order_event_build(
            order=order,
            from_status=from_status,
            to_status=order.status,
            actor=None,
            reason=reason,
            customer_reason=customer_reason,
        )
        # The transition and its audit row: one statement.
        write_together(updates=[([order], changed_fields(order, locked))], inserts=[[event]])
        order_notify(order=order, event=order.status, extra={"reason": customer_reason or reason})
    timings["confirmation"] = (time.perf_counter() - started) * 1000
    timings_record(order_id=order.pk, timings=timings)
    return order


def _pending(order_id: int) -> Order:
    """The order and its payment's key: what the confirmation needs before its
    gateway call (the status, the age). Plain SQL: it runs on every order."""
    found = select_models(_PENDING, [order_id], Order, extra=["payment_id"])
    if not found:
        raise Order.DoesNotExist(f"No order {order_id}.")
    return found[0]


_PENDING = (
    f"SELECT {columns(Order, 'o')}, p.id FROM {Order._meta.db_table} o "
    f"LEFT JOIN {Order._meta.get_field('payment').related_model._meta.db_table} p "
    "ON p.order_id = o.id WHERE o.id = %s"
)


def _enqueue_settlement(order: Order) -> None:
    from ..tasks import order_settle_cancelled_payment

    order_settle_cancelled_payment.delay_on_commit(order.pk)


def order_settle_cancelled_payment(*, order_id: int) -> Order:
    """A cancelled order keeps no money: void an authorization, refund a capture.
    Raises GatewayError (the task retries) while an answer is still outstanding."""
    order = Order.objects.select_related("payment").get(pk=order_id)
    if order.status != OrderStatus.CANCELLED or not hasattr(order, "payment"):
        return order
    payment = order.payment
    if payment.status == "pending" and payment_authorization_in_doubt(payment):
        # The authorization's answer was lost: ask again (same key, same hold) so
        # that whatever the card holds can be released below. If the call is
        # still in flight, voiding now is enough: it releases its own hold when
        # it comes back and finds the payment voided.
        with contextlib.suppress(OperationInProgress):
            payment = payment_authorize(payment_id=payment.pk)
    if payment.status in ("pending", "authorized"):
        # pending: nothing reached the gateway (COD, or cancelled before confirmation).
        payment = payment_void(
            payment_id=payment.pk, actor=None, reason=order.cancel_reason or "order cancelled"
        )
    elif payment.status in ("captured", "partially_refunded"):
        _refund_everything(payment, key=f"cancel-{order.number}")
        payment.refresh_from_db()
    with transaction.atomic():
        order = order_lock(order_id)
        order_mirror_payment(order, payment)
    return order


def _refund_everything(payment, *, key: str) -> None:
    """Refund what is still refundable under one key. A retry re-drives the
    same refund (same key, same amount) instead of starting a second one;
    other refunds still pending at the gateway finish on their own."""
    earlier = payment.refunds.filter(idempotency_key=key).first()
    amount = earlier.amount if earlier else payment_refundable_amount(payment)
    if amount > 0:
        payment_refund(
            payment_id=payment.pk,
            amount=amount,
            reason="order cancelled",
            actor=None,
            idempotency_key=key,
            source="cancel",
        )


def order_claim(*, order: Order, actor) -> Order:
    """A reviewer takes a held order, so others see it is being looked at."""
    with transaction.atomic():
        order = order_lock(order.pk)
        if order.status != OrderStatus.ON_HOLD:
            raise TransitionNotAllowed(f"Order {order.number} is not waiting for review.")
        order.reviewer = actor
        order.claimed_at = timezone.now()
        order.save(update_fields=["reviewer", "claimed_at", "updated_at"])
    return order


@transaction.atomic
def order_approve(*, order: Order, actor, note: str = "") -> Order:
    order = order_lock(order.pk)
    if not can_proceed(order.approve):
        raise TransitionNotAllowed(
            f"Order {order.number} is {order.status}; only held orders can be approved."
        )
    if holds_release_all(order=order, actor=actor, note=note):
        return order  # held after confirmation: back where it was, stock long committed
    from_status = order.status
    order.approve(at=timezone.now())
    order.save()
    stock_commit(order_line_ids=_line_ids(order))
    order_event_record(
        order=order,
        from_status=from_status,
        to_status=order.status,
        actor=actor,
        reason=note or "approved",
    )
    order_notify(order=order, event="confirmed")
    return order


@transaction.atomic
def order_reject(*, order: Order, actor, reason: str) -> Order:
    order = order_lock(order.pk)
    if not can_proceed(order.reject):
        raise TransitionNotAllowed(
            f"Order {order.number} is {order.status}; only held orders can be rejected."
        )
    holds_release_all(order=order, actor=actor, note=reason, move_on=False)
    from_status = order.status
    order.reject(reason=f"rejected in review: {reason}", at=timezone.now())
    order.save()
    order_event_record(
        order=order, from_status=from_status, to_status=order.status, actor=actor, reason=reason
    )
    stock_release(
        order_line_ids=_line_ids(order),
        actor=actor,
        reason=f"rejected: {reason}"[:255],
        reference=order.number,
    )
    promo_return_use(order=order)
    order_notify(order=order, event="cancelled", extra={"reason": order.cancel_reason})
    _enqueue_settlement(order)
    return order
