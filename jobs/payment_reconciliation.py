"""Payment reconciliation: each order's payment against the order, what shipped
and what was refunded, and payments stuck half-way (`manage.py reconcile_payments`).

`payment_drift()` is read-only. `payment_drift_fix()` repairs only what is safe to
repair without asking the gateway: an order whose `payment_status` disagrees with
its payment gets the payment's status copied over, with an audit row (an
OrderEvent by no actor, reason "reconcile_payments --fix: ..."). Everything else
involves money at the gateway and is reported for staff.

Kinds of drift are listed in KINDS. Those that work still in flight explains for
a while (a shipment's capture, a cancelled order's void or refund, a gateway call,
a pending refund) are reported only once PAYMENT_STUCK_MINUTES have passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.utils import timezone

from orders.models import Order, OrderLine, OrderStatus
from orders.services.events import order_event_record
from orders.services.locking import order_lock
from orders.services.payment_status import order_mirror_payment
from payments.models import (
    GatewayCall,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)

ZERO = Decimal("0.00")
DEFAULT_STALE_MINUTES = 30
FIX_REASON = "reconcile_payments --fix: "

CAPTURED_EXCEEDS_TOTAL = "captured_exceeds_total"
REFUNDED_EXCEEDS_CAPTURED = "refunded_exceeds_captured"
REFUNDS_DISAGREE = "refunds_disagree_with_payment"
SHIPPED_NOT_CAPTURED = "shipped_not_captured"
COD_NOT_COLLECTED = "cod_delivered_not_collected"
CANCELLED_HOLDS_CAPTURE = "cancelled_holds_captured_money"
CANCELLED_HOLDS_AUTHORIZATION = "cancelled_holds_authorization"
GATEWAY_CALL_UNANSWERED = "gateway_call_unanswered"
REFUND_STUCK_PENDING = "refund_stuck_pending"
PAYMENT_PENDING_ON_CONFIRMED = "payment_pending_on_confirmed_order"
STATUS_MISMATCH = "payment_status_mismatch"
PAYMENT_MISSING = "payment_missing"

KINDS = {
    CAPTURED_EXCEEDS_TOTAL: "more captured than the order total",
    REFUNDED_EXCEEDS_CAPTURED: "succeeded refunds add up to more than was captured",
    REFUNDS_DISAGREE: "succeeded refunds do not add up to the payment's refunded amount",
    SHIPPED_NOT_CAPTURED: "fully shipped (card/UPI) but not fully captured",
    COD_NOT_COLLECTED: "cash on delivery delivered but not recorded as collected",
    CANCELLED_HOLDS_CAPTURE: "cancelled, but captured money was not refunded",
    CANCELLED_HOLDS_AUTHORIZATION: "cancelled, but the authorization was not voided",
    GATEWAY_CALL_UNANSWERED: "a gateway call never got its answer",
    REFUND_STUCK_PENDING: "a refund has been pending too long",
    PAYMENT_PENDING_ON_CONFIRMED: "the order is confirmed but its payment is still pending",
    STATUS_MISMATCH: "the order's payment_status disagrees with the payment (fixable)",
    PAYMENT_MISSING: "the order has no payment",
}
FIXABLE = {STATUS_MISMATCH}

SHIPPED_STATES = [
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.PARTIALLY_RETURNED,
    OrderStatus.RETURNED,
]
CONFIRMED_STATES = [
    OrderStatus.CONFIRMED,
    OrderStatus.PROCESSING,
    OrderStatus.PARTIALLY_SHIPPED,
    *SHIPPED_STATES,
]


@dataclass
class PaymentDrift:
    order: str
    order_id: int
    order_status: str
    payment_id: int | None
    payment_status: str
    findings: dict[str, str] = field(default_factory=dict)  # kind → what was seen

    @property
    def kinds(self) -> list[str]:
        return list(self.findings)

    @property
    def fixable(self) -> list[str]:
        return [kind for kind in self.findings if kind in FIXABLE]

    def as_dict(self) -> dict:
        return {
            "order": self.order,
            "order_status": self.order_status,
            "payment_id": self.payment_id,
            "payment_status": self.payment_status,
            "kinds": self.kinds,
            "findings": self.findings,
            "fixable": self.fixable,
        }


def stale_minutes() -> int:
    return int(getattr(settings, "PAYMENT_STUCK_MINUTES", DEFAULT_STALE_MINUTES))


def _by_payment(queryset, **aggregates) -> dict[int, dict]:
    rows = queryset.order_by().values("payment_id").annotate(**aggregates)
    return {row["payment_id"]: row for row in rows}


def _older(value: datetime | None, cutoff: datetime) -> bool:
    return value is None or value < cutoff


def _check(order: Order, payment: Payment | None, facts: dict, cutoff: datetime) -> dict[str, str]:
    if payment is None:
        return {PAYMENT_MISSING: KINDS[PAYMENT_MISSING]}
    found: dict[str, str] = {}
    cur = payment.currency
    captured, refunded = payment.amount_captured, payment.amount_refunded
    if captured > order.total:
        found[CAPTURED_EXCEEDS_TOTAL] = f"captured {captured} {cur} of a {order.total} total"
    succeeded = facts["refunds"].get(payment.pk, {}).get("total") or ZERO
    if succeeded > captured:
        found[REFUNDED_EXCEEDS_CAPTURED] = (
            f"refunds of {succeeded} {cur} succeeded, {captured} captured"
        )
    if succeeded != refunded:
        found[REFUNDS_DISAGREE] = f"refunds add up to {succeeded}, the payment says {refunded}"
    fully_shipped = order.has_lines and not order.has_unshipped
    if (
        not payment.is_cash
        and fully_shipped
        and order.status in SHIPPED_STATES
        and captured < order.total
        and _older(order.shipped_at, cutoff)
    ):
        found[SHIPPED_NOT_CAPTURED] = f"captured {captured} of {order.total} {cur}"
    if (
        payment.is_cash
        and order.delivered_at is not None
        and order.delivered_at < cutoff
        and captured < order.total
    ):
        found[COD_NOT_COLLECTED] = f"collected {captured} of {order.total} {cur}"
    if order.status == OrderStatus.CANCELLED and _older(order.cancelled_at, cutoff):
        if captured - refunded > 0:
            found[CANCELLED_HOLDS_CAPTURE] = f"{captured - refunded} {cur} captured, not refunded"
        if payment.status == PaymentStatus.AUTHORIZED:
            found[CANCELLED_HOLDS_AUTHORIZATION] = (
                f"{payment.amount_authorized} {cur} still authorized"
            )
    calls = facts["calls"].get(payment.pk)
    if calls:
        found[GATEWAY_CALL_UNANSWERED] = (
            f"{calls['n']} call(s) unanswered for over {facts['minutes']} min: {calls['what']}"
        )
    refunds = facts["pending_refunds"].get(payment.pk)
    if refunds:
        found[REFUND_STUCK_PENDING] = (
            f"{refunds['n']} refund(s) of {refunds['total']} {cur} pending "
            f"for over {facts['minutes']} min"
        )
    if (
        not payment.is_cash
        and order.status in CONFIRMED_STATES
        and payment.status == PaymentStatus.PENDING
    ):
        found[PAYMENT_PENDING_ON_CONFIRMED] = f"order {order.status}, payment pending"
    if order.payment_status != payment.status:
        found[STATUS_MISMATCH] = f"order says {order.payment_status}, payment is {payment.status}"
    return found


def _facts(cutoff: datetime, minutes: int) -> dict:
    stale_calls = GatewayCall.objects.filter(completed_at__isnull=True).filter(
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff)
    )
    calls: dict[int, dict] = {}
    for payment_id, operation, key in stale_calls.order_by("pk").values_list(
        "payment_id", "operation", "idempotency_key"
    ):
        entry = calls.setdefault(payment_id, {"n": 0, "what": []})
        entry["n"] += 1
        entry["what"].append(f"{operation} {key}")
    for entry in calls.values():
        entry["what"] = ", ".join(entry["what"][:5])
    return {
        "minutes": minutes,
        "refunds": _by_payment(
            Refund.objects.filter(status=RefundStatus.SUCCEEDED), total=Sum("amount")
        ),
        "pending_refunds": _by_payment(
            Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=cutoff),
            n=Count("pk"),
            total=Sum("amount"),
        ),
        "calls": calls,
    }


def _may_have_findings(cutoff: datetime) -> Q:
    """A necessary condition, in SQL, for `_check` to find anything: an order it
    leaves out would have no finding. It only spares loading and checking the
    clean majority; `_check` still decides about every order it lets through."""
    cash = Q(payment__method=PaymentMethod.COD)
    short = Q(payment__amount_captured__lt=F("total"))
    succeeded_refund = Exists(
        Refund.objects.filter(payment=OuterRef("payment"), status=RefundStatus.SUCCEEDED)
    )
    stale_refund = Exists(
        Refund.objects.filter(
            payment=OuterRef("payment"), status=RefundStatus.PENDING, created_at__lt=cutoff
        )
    )
    stale_call = Exists(
        GatewayCall.objects.filter(payment=OuterRef("payment"), completed_at__isnull=True).filter(
            Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff)
        )
    )
    return (
        Q(payment__isnull=True)
        | Q(payment__amount_captured__gt=F("total"))
        | ~Q(payment__amount_refunded=ZERO)
        | Q(succeeded_refund)
        | (~cash & Q(status__in=SHIPPED_STATES) & short)
        | (cash & Q(delivered_at__isnull=False) & short)
        | Q(
            status=OrderStatus.CANCELLED, payment__amount_captured__gt=F("payment__amount_refunded")
        )
        | Q(status=OrderStatus.CANCELLED, payment__status=PaymentStatus.AUTHORIZED)
        | Q(stale_call)
        | Q(stale_refund)
        | (~cash & Q(status__in=CONFIRMED_STATES, payment__status=PaymentStatus.PENDING))
        | ~Q(payment_status=F("payment__status"))
    )


def payment_drift(
    *,
    now: datetime | None = None,
    minutes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 500,
) -> list[PaymentDrift]:
    """Every order checked against its payment; only orders with findings are returned.

    One pass over the orders in pk order reads only (pk, may have findings); the
    orders that may are then loaded with their payment, `batch` at a time, and
    checked. Memory stays bounded by the batch, whatever the number of orders."""
    now = now or timezone.now()
    minutes = stale_minutes() if minutes is None else minutes
    cutoff = now - timedelta(minutes=minutes)
    facts = _facts(cutoff, minutes)
    lines = OrderLine.objects.filter(order=OuterRef("pk"))
    full = Order.objects.annotate(
        has_lines=Exists(lines),
        has_unshipped=Exists(lines.filter(quantity_shipped__lt=F("quantity"))),
    ).select_related("payment")
    flags = (
        Order.objects.annotate(
            suspect=ExpressionWrapper(_may_have_findings(cutoff), output_field=BooleanField())
        )
        .order_by("pk")
        .values_list("pk", "suspect")
    )
    total = Order.objects.count()
    drifts: list[PaymentDrift] = []

    def check(pks: list[int]) -> None:
        for order in full.filter(pk__in=pks).order_by("pk"):
            payment = getattr(order, "payment", None)  # the missing relation is an AttributeError
            findings = _check(order, payment, facts, cutoff)
            if findings:
                drifts.append(
                    PaymentDrift(
                        order=order.number or str(order.pk),
                        order_id=order.pk,
                        order_status=order.status,
                        payment_id=payment.pk if payment else None,
                        payment_status=payment.status if payment else "",
                        findings=findings,
                    )
                )

    suspects: list[int] = []
    index = 0
    for index, (pk, suspect) in enumerate(flags.iterator(chunk_size=5000), start=1):
        if suspect:
            suspects.append(pk)
            if len(suspects) >= batch:
                check(suspects)
                suspects = []
        if progress and (index % 1000 == 0 or index == total):
            progress(index, total)
    if suspects:
        check(suspects)
    if progress and index != total:  # orders came or went meanwhile
        progress(index, index)
    return drifts


@transaction.atomic
def payment_drift_fix(drift: PaymentDrift, *, actor=None) -> list[str]:
    """Repair the safe part of `drift` (the payment_status mirror), re-checked
    under the order's row lock. Returns what was done."""
    if STATUS_MISMATCH not in drift.findings:
        return []
    order = order_lock(drift.order_id)
    before = order.payment_status
    if not order_mirror_payment(order):
        return []  # put right meanwhile (a worker synced it)
    done = f"payment_status {before} → {order.payment_status} (copied from the payment)"
    order_event_record(
        order=order,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        reason=FIX_REASON + done,
        staff_only=True,  # bookkeeping, not news for the customer
    )
    return [done]


__all__ = [
    "FIXABLE",
    "KINDS",
    "PaymentDrift",
    "payment_drift",
    "payment_drift_fix",
    "stale_minutes",
]
