"""Money and goods coming back, order side: units returned (the order's
`partially_returned` / `returned` status), the record every refund leaves on
the order, and staff refunds outside any return (goodwill, price adjustments).

Returns call the first two inside their own transaction; `order_refund` runs
the gateway call itself, so it must be called with no transaction open."""

from __future__ import annotations

import hashlib
import uuid
from contextlib import contextmanager
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import ServiceUnavailable, ValidationFailed, detail
from payments.errors import GatewayRefused, RefundExceedsCaptured
from payments.gateways.base import GatewayError
from payments.models import Payment, Refund, RefundStatus
from payments.selectors import payment_refundable_amount
from payments.services import payment_refund

from ..models import Order, OrderLine
from .events import order_event_record
from .locking import order_lock
from .payment_status import order_mirror_payment
from .restocking import RefundLineInput, restock_apply, restock_plan, restock_share

# A refund of lines nothing was charged for: goods booked, no Refund row, no money.
NOTHING_TO_REFUND = "nothing_to_refund"


def order_returns_record(*, order: Order, quantities: dict[int, int], actor, reason: str) -> Order:
    """Units of these lines ({order line id: units}) came back. Call inside a
    transaction holding the order's lock. The order becomes `returned` once every
    shipped unit is back, `partially_returned` before that; the database refuses
    more returned than shipped (line_returned_le_shipped)."""
    for line_id, units in quantities.items():
        if units:
            OrderLine.objects.filter(pk=line_id, order=order).update(
                quantity_returned=F("quantity_returned") + units
            )
    lines = list(
        OrderLine.objects.filter(order=order).values("quantity_shipped", "quantity_returned")
    )
    shipped = sum(line["quantity_shipped"] for line in lines)
    returned = sum(line["quantity_returned"] for line in lines)
    from_status = order.status
    if returned >= shipped:
        order.return_fully()
    else:
        order.return_partially()
    order.save()
    order_event_record(
        order=order, from_status=from_status, to_status=order.status, actor=actor, reason=reason
    )
    return order


def _event_marker(refund: Refund) -> str:
    return f"refund #{refund.pk}:"


def order_refund_record(
    *,
    order_id: int,
    refund: Refund,
    actor,
    reason: str,
    lines: list[RefundLineInput] | None = None,
) -> Order:
    """A refund succeeded: mirror the payment's status on the order, book its
    lines' restock (cancel / return / none), leave an audit row (from = to =
    the order's status, so the history shows who gave money back, why, and
    what happened to the goods) and tell the customer. Idempotent per refund:
    a replay finds its audit row and changes nothing twice."""
    with transaction.atomic():
        order = order_lock(order_id)
        payment = Payment.objects.get(order_id=order_id)
        order_mirror_payment(order, payment)
        marker = _event_marker(refund)
        if order.events.filter(reason__startswith=marker).exists():
            return order
        goods = ""
        if lines:
            goods = _restock_booked(
                order=order, refund=refund, lines=lines, actor=actor, why=reason
            )
        order_event_record(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=actor,
            reason=f"{marker} {refund.amount} {refund.currency} refunded — {reason}{goods}",
        )
        from .notify import order_notify  # pulls in the notifications app: import late

        order_notify(
            order=order,
            event="refunded",
            extra={"amount": f"{refund.amount:.2f}", "currency": refund.currency, "reason": reason},
            dedupe_suffix=f"refund-{refund.pk}",
        )
    return order


def _restock_booked(*, order: Order, refund: Refund, lines, actor, why: str) -> str:
    """Book the refund's lines, checked again under the lock. Only a writer that
    does not queue on the refund lock (a shipment, a received return) can have
    used the units since order_refund checked them: the money is back by then,
    so the refund stands, and staff are told that its goods were not booked."""
    reference = f"{order.number}/refund-{refund.pk}"
    try:
        planned = restock_plan(order=order, lines=lines)
    except ValidationFailed as exc:
        order_event_record(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=actor,
            reason=f"{_event_marker(refund)} restock not booked: "
            + "; ".join(d["message"] for d in exc.details),
            staff_only=True,
        )
        return "; goods: not booked (see the staff note)"
    restock_apply(order=order, planned=planned, actor=actor, reason=why, reference=reference)
    return "; goods: " + ", ".join(p.describe() for p in planned)


@contextmanager
def _refund_lock(order_id: int):
    """Refunds that name lines queue per order from their check to their booking
    (a session advisory lock: the gateway call in between runs outside any
    transaction), so two of them never both pass the check for the same units."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_REFUND_LOCK_SPACE, order_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_REFUND_LOCK_SPACE, order_id])


_REFUND_LOCK_SPACE = 12_012  # keeps these advisory-lock keys apart from any other use


def _exceeds(amount: Decimal, room: Decimal, currency: str) -> ValidationFailed:
    return ValidationFailed(
        "The refund is more than what was captured and not yet refunded.",
        details=[
            detail(
                "amount",
                "REFUND_EXCEEDS_CAPTURED",
                f"At most {room} {currency} can be refunded, not {amount}.",
            )
        ],
    )


def _staff_key(order: Order, idempotency_key: str | None) -> str:
    # Hashed so any header length fits the payments key, and scoped to the order.
    if not idempotency_key:
        return f"staff:{order.number}:{uuid.uuid4().hex}"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"staff:{order.number}:{digest}"


def order_refund(
    *,
    order: Order,
    amount: Decimal | None,
    reason: str,
    actor,
    idempotency_key: str | None = None,
    lines: list[RefundLineInput] | None = None,
) -> Refund:
    """A staff refund outside any return, optionally naming lines and what
    happens to their goods (see orders.services.restocking). Without `amount`,
    the lines' share of what was paid (restock_share). Never above what was
    captured and not yet refunded (400 REFUND_EXCEEDS_CAPTURED). The same
    Idempotency-Key refunds once. Audited by the Refund's actor and reason and
    by an order event."""
    if not lines:
        if amount is None:
            raise ValidationFailed(
                "The refund was rejected.",
                details=[detail("amount", "INVALID_AMOUNT", "Give an amount, or lines to refund.")],
            )
        return _refund(
            order=order, amount=amount, reason=reason, actor=actor, key=idempotency_key, lines=None
        )
    with _refund_lock(order.pk):
        return _refund(
            order=order, amount=amount, reason=reason, actor=actor, key=idempotency_key, lines=lines
        )


def _refund(*, order: Order, amount, reason: str, actor, key: str | None, lines) -> Refund:
    payment = Payment.objects.filter(order_id=order.pk).first()
    key = _staff_key(order, key)
    # A replay goes straight to payments, which answers with the first refund
    # (or 409 for a different amount) even when no room is left now; its lines
    # were booked with it (order_refund_record is idempotent per refund).
    first = Refund.objects.filter(idempotency_key=key).first()
    replay = first is not None
    if lines and not replay:
        with transaction.atomic():
            planned = restock_plan(order=order_lock(order.pk), lines=lines)
        if amount is None:
            captured = payment.amount_captured if payment is not None else Decimal("0.00")
            amount = restock_share(order=order, planned=planned, captured=captured)
            room = payment_refundable_amount(payment)
            if room < amount <= room + Decimal("0.01"):
                amount = room  # a cent of rounding over what is left: the last units
            if amount <= 0:
                # Nothing was charged for these units (they had not shipped):
                # the goods are booked, no money moves.
                with transaction.atomic():
                    locked = order_lock(order.pk)
                    planned = restock_plan(order=locked, lines=lines)
                    restock_apply(
                        order=locked,
                        planned=planned,
                        actor=actor,
                        reason=reason,
                        reference=f"{order.number}/no-refund",
                    )
                    order_event_record(
                        order=locked,
                        from_status=locked.status,
                        to_status=locked.status,
                        actor=actor,
                        reason=f"no money refunded (nothing was charged for these units) — "
                        f"{reason}; goods: " + ", ".join(p.describe() for p in planned),
                    )
                return Refund(
                    amount=Decimal("0.00"),
                    currency=order.currency,
                    status=NOTHING_TO_REFUND,
                    reason=reason[:255],
                    source="staff",
                    created_at=timezone.now(),
                )
    elif amount is None:
        amount = first.amount
    room = payment_refundable_amount(payment)
    if payment is None or (amount > room and not replay):
        raise _exceeds(amount, room, order.currency)
    try:
        refund = payment_refund(
            payment_id=payment.pk,
            amount=amount,
            reason=reason,
            actor=actor,
            idempotency_key=key,
            source="staff",
        )
    except RefundExceedsCaptured as exc:  # another refund took the room since we looked
        raise _exceeds(
            amount, payment_refundable_amount(Payment.objects.get(pk=payment.pk)), order.currency
        ) from exc
    except GatewayError as exc:
        raise ServiceUnavailable(
            "The payment gateway did not answer; retry with the same Idempotency-Key."
        ) from exc
    if refund.status == RefundStatus.FAILED:
        with transaction.atomic():
            locked = order_lock(order.pk)
            order_event_record(
                order=locked,
                from_status=locked.status,
                to_status=locked.status,
                actor=actor,
                reason=f"refund of {amount} {order.currency} refused by the gateway: "
                f"{refund.failure_message} — {reason}",
                staff_only=True,  # the gateway's words, for staff to act on
            )
        raise GatewayRefused(refund.failure_message or "The gateway refused the refund.")
    order_refund_record(order_id=order.pk, refund=refund, actor=actor, reason=reason, lines=lines)
    return refund
