"""Authorizations about to lapse: capture what shipped, or flag the order for staff.

A card authorization is held only so long by the gateway (AUTHORIZATION_EXPIRY_DAYS),
while an order may wait in review or ship in parts for days. Shortly before the hold
lapses (AUTHORIZATION_EXPIRY_WARN_HOURS), this beat job looks at each such payment:

- goods shipped and their share not captured yet (and no shipment capture still
  on its way): capture that share now, through `payments.services.payment_capture`
  with no transaction open, under an idempotency key per payment and day;
- anything it cannot settle by itself (nothing shipped yet, an unshipped rest
  that will lapse, a gateway that captures only the full amount, a capture the
  gateway refused, a cancelled order still holding the authorization): flag the
  order for staff with an audit note (an OrderEvent with from = to = its status),
  a log warning, and a line in the command's report.

Safe to run twice at once: both runners compute the same amount and key, so the
gateway is called once (the loser gets OperationInProgress, or the stored answer);
notes are written under the order's row lock and only once per order, day and text.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.errors import DomainError, IdempotencyKeyReused
from orders.models import Order, OrderEvent, OrderStatus
from orders.services.events import order_event_record
from orders.services.locking import order_lock
from orders.services.payment_status import order_sync_payment_status
from payments.errors import OperationInProgress
from payments.gateways.base import GatewayError
from payments.gateways.registry import UnknownGateway, get_gateway
from payments.maintenance import authorization_expires_at, payments_with_expiring_authorization
from payments.models import GatewayOperation, Payment
from payments.services import payment_capture

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
BATCH = 500

# Actions of a plan, and what became of it once run.
CAPTURE, FLAG, NOTHING = "capture", "flag", "nothing"
CAPTURED, FLAGGED, BUSY, RETRY = "captured", "flagged", "busy", "retry"


@dataclass
class ExpiryOutcome:
    order: str
    order_id: int
    payment_id: int
    gateway: str
    currency: str
    expires_at: datetime | None
    action: str
    amount: Decimal
    reason: str

    def as_dict(self) -> dict:
        data = asdict(self)
        data["amount"] = str(self.amount)
        data["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        return data


def _shipped_due(order: Order, lines) -> tuple[Decimal, bool]:
    """What the payment should hold for the goods shipped so far, and whether
    everything has shipped. The same arithmetic as the ship worker's partial
    captures (`fulfillment.services.capture.cumulative_due`): shipping goes with
    the first goods, discount and tax in proportion to the goods' value."""
    fully = all(line.quantity_shipped >= line.quantity for line in lines)
    if fully:
        return order.total, True
    subtotal = sum((line.line_total for line in lines), ZERO)
    value = sum((line.unit_price * line.quantity_shipped for line in lines), ZERO)
    if subtotal <= 0:  # free goods: spread the (shipping) total by units instead
        subtotal = Decimal(sum(line.quantity for line in lines))
        value = Decimal(sum(line.quantity_shipped for line in lines))
    if value <= 0:
        return ZERO, False
    goods = order.total - order.shipping
    share = (goods * value / subtotal).quantize(CENT, rounding=ROUND_HALF_UP)
    return min(order.shipping + share, order.total), False


def _shipment_captures(order: Order) -> tuple[Decimal, list[str]]:
    """Shares the ship worker fixed but has not captured yet (it will), and the
    shipments whose capture the gateway refused (ops must look). Read through the
    reverse relation: orders never imports fulfillment."""
    shipments = getattr(order, "shipments", None)
    if shipments is None:
        return ZERO, []
    pending = ZERO
    refused = []
    for number, amount, error in shipments.filter(
        capture_amount__gt=0, captured_at__isnull=True
    ).values_list("number", "capture_amount", "capture_error"):
        if error:
            refused.append(f"{number} ({error})")
        else:
            pending += amount
    return pending, refused


def _in_flight(payment: Payment) -> Decimal:
    return (
        payment.gateway_calls.filter(operation=GatewayOperation.CAPTURE, ok__isnull=True).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )


def authorization_expiry_plan(payment: Payment) -> ExpiryOutcome:
    """What to do about one payment whose authorization is about to lapse (no writes)."""
    order = Order.objects.get(pk=payment.order_id)
    expires_at = authorization_expires_at(payment)
    when = f"{expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "soon"
    cur = payment.currency
    held = payment.amount_authorized - payment.amount_captured

    def outcome(action: str, reason: str, amount: Decimal = ZERO) -> ExpiryOutcome:
        return ExpiryOutcome(
            order=order.number or str(order.pk),
            order_id=order.pk,
            payment_id=payment.pk,
            gateway=payment.gateway,
            currency=cur,
            expires_at=expires_at,
            action=action,
            amount=amount,
            reason=reason,
        )

    if order.status == OrderStatus.CANCELLED:
        return outcome(
            FLAG, f"cancelled order still holds an authorization of {held} {cur}; void it"
        )
    lines = list(order.lines.all())
    if not any(line.quantity_shipped for line in lines):
        waiting = "held for review" if order.status == OrderStatus.ON_HOLD else order.status
        return outcome(
            FLAG,
            f"nothing shipped yet ({waiting}); the authorization of {held} {cur} "
            f"lapses {when}: ship, or ask the customer to pay again",
        )
    due, fully = _shipped_due(order, lines)
    in_flight = _in_flight(payment)
    planned, refused = _shipment_captures(order)
    if refused:
        return outcome(
            FLAG,
            f"the gateway refused the capture of shipment(s) {', '.join(refused)}; "
            f"the authorization lapses {when}",
        )
    outstanding = due - payment.amount_captured - in_flight - planned
    rest = held - in_flight - planned - max(outstanding, ZERO)
    if outstanding <= 0:
        if fully or rest <= 0:
            return outcome(NOTHING, "everything shipped is captured or being captured")
        return outcome(
            FLAG,
            f"shipped goods are captured; the unshipped rest ({rest} {cur}) lapses {when}: "
            "ship it, or ask the customer to pay again",
        )
    try:
        gateway = get_gateway(payment.gateway)
    except UnknownGateway:
        return outcome(FLAG, f"unknown gateway {payment.gateway!r}; capture by hand before {when}")
    if not gateway.supports_partial_capture and outstanding != held - in_flight:
        return outcome(
            FLAG,
            f"{outstanding} {cur} of goods shipped, but the {gateway.name} gateway captures only "
            f"the full {held - in_flight} {cur}; the authorization lapses {when}",
        )
    reason = (
        f"captured {outstanding} {cur} for shipped goods before the authorization lapses {when}"
    )
    if rest > 0:
        reason += (
            f"; the unshipped rest ({rest} {cur}) is not captured: ship it or ask the customer"
        )
    return outcome(CAPTURE, reason, outstanding)


def _capture(plan: ExpiryOutcome, payment: Payment, day: str) -> ExpiryOutcome:
    # Per payment and day; the amount already captured makes a later capture the
    # same day (more shipped meanwhile) a new request, while two runners working
    # from the same state share one key and so one gateway call.
    key = f"authorization-expiry-{day}-{payment.amount_captured}"
    try:
        payment_capture(payment_id=payment.pk, amount=plan.amount, actor=None, idempotency_key=key)
    except (OperationInProgress, IdempotencyKeyReused):
        plan.action = BUSY  # another runner is capturing it right now
        return plan
    except GatewayError as exc:
        logger.warning("order %s: capture before expiry will be retried: %s", plan.order, exc)
        plan.action, plan.reason = RETRY, f"gateway unavailable, retried next run: {exc}"
        return plan
    except DomainError as exc:
        plan.action = FLAG
        plan.reason = f"capture of {plan.amount} {plan.currency} refused: {exc.message}"
        return plan
    plan.action = CAPTURED
    return plan


def _note(order_id: int, reason: str) -> bool:
    """The audit note, once per order and text (the text carries the day)."""
    with transaction.atomic():
        order = order_lock(order_id)
        if OrderEvent.objects.filter(order=order, reason=reason).exists():
            return False
        order_event_record(
            order=order,
            from_status=order.status,
            to_status=order.status,
            actor=None,
            reason=reason,
            staff_only=True,  # instructions for staff ("ask the customer to pay again")
        )
    return True


def authorizations_settle_expiring(
    *, now: datetime | None = None, dry_run: bool = False, limit: int = BATCH
) -> list[ExpiryOutcome]:
    """The beat job. Returns one outcome per payment looked at; with `dry_run`,
    the plans only (nothing captured, nothing written)."""
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    outcomes = []
    for payment in payments_with_expiring_authorization(now=now)[:limit]:
        plan = authorization_expiry_plan(payment)
        if dry_run or plan.action == NOTHING:
            outcomes.append(plan)
            continue
        if plan.action == CAPTURE:
            plan = _capture(plan, payment, day)
        if plan.action == FLAG:  # from the plan, or a capture the gateway refused
            plan.action = FLAGGED
        if plan.action in (CAPTURED, FLAGGED):
            _note(plan.order_id, f"authorization expiry check {day}: {plan.reason}")
        if plan.action == CAPTURED:
            order_sync_payment_status(order_id=plan.order_id)
            logger.info("order %s: %s", plan.order, plan.reason)
        elif plan.action == FLAGGED:
            logger.warning("order %s needs staff: %s", plan.order, plan.reason)
        outcomes.append(plan)
    return outcomes
