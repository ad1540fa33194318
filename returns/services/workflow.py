"""The steps between opening and receiving a return, and the staff's
"refund it" that hands the money part to a worker."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed

from core.errors import TransitionNotAllowed

from ..models import Resolution, ReturnRequest, ReturnStatus
from .common import notify, refuse, return_event_record, return_lock


def _move(
    rr: ReturnRequest,
    *,
    action: str,
    transition: str,
    actor,
    reason: str,
    params: dict | None = None,
) -> ReturnRequest:
    """Lock, check, transition, save and audit: the shape of every simple step."""
    _, rr = return_lock(rr.pk)
    bound = getattr(rr, transition)
    if not can_proceed(bound):
        raise refuse(rr, action)
    from_status = rr.status
    bound(at=timezone.now(), **(params or {}))
    rr.save()
    return_event_record(
        rr=rr, from_status=from_status, to_status=rr.status, actor=actor, reason=reason
    )
    return rr


@transaction.atomic
def return_approve(*, rr: ReturnRequest, actor, note: str = "") -> ReturnRequest:
    rr = _move(rr, action="approved", transition="approve", actor=actor, reason=note or "approved")
    notify(
        rr.order,
        "returned",
        extra={"return_number": rr.number, "return_status": rr.status},
        dedupe_suffix=f"{rr.number}:approved",
    )
    return rr


@transaction.atomic
def return_reject(*, rr: ReturnRequest, actor, reason: str) -> ReturnRequest:
    rr = _move(
        rr,
        action="rejected",
        transition="reject",
        actor=actor,
        reason=reason,
        params={"reason": reason},
    )
    notify(
        rr.order,
        "returned",
        extra={"return_number": rr.number, "return_status": rr.status, "reason": reason},
        dedupe_suffix=f"{rr.number}:rejected",
    )
    return rr


@transaction.atomic
def return_cancel(*, rr: ReturnRequest, actor, reason: str = "") -> ReturnRequest:
    """The customer changed their mind before anyone acted on the return."""
    return _move(
        rr,
        action="cancelled",
        transition="cancel",
        actor=actor,
        reason=reason or "cancelled by request",
    )


@transaction.atomic
def return_schedule_pickup(
    *,
    rr: ReturnRequest,
    actor,
    pickup_at: datetime | None = None,
    carrier: str = "",
    tracking_number: str = "",
) -> ReturnRequest:
    when = f" for {pickup_at.isoformat()}" if pickup_at else ""
    return _move(
        rr,
        action="scheduled for pickup",
        transition="schedule_pickup",
        actor=actor,
        reason=f"pickup scheduled{when}" + (f" with {carrier}" if carrier else ""),
        params={"pickup_at": pickup_at, "carrier": carrier, "tracking_number": tracking_number},
    )


@transaction.atomic
def return_mark_in_transit(*, rr: ReturnRequest, actor, note: str = "") -> ReturnRequest:
    return _move(
        rr,
        action="marked in transit",
        transition="mark_in_transit",
        actor=actor,
        reason=note or "in transit",
    )


@transaction.atomic
def return_request_refund(*, rr: ReturnRequest, actor) -> ReturnRequest:
    """received → processed, and the refund is issued by a worker on commit.
    From `processed` (a refund that failed or is still owed) it only enqueues
    again: the worker is idempotent. Choosing a refund for a received return
    whose replacement could not be sent switches its resolution to refund."""
    _, rr = return_lock(rr.pk)
    if rr.replacement_order_id is not None:
        raise TransitionNotAllowed(
            f"Return {rr.number} was settled with replacement order "
            f"{rr.replacement_order.number}; it cannot also be refunded."
        )
    if rr.status not in (ReturnStatus.RECEIVED, ReturnStatus.PROCESSED):
        raise refuse(rr, "refunded")
    rr.refund_requested_by = actor if getattr(actor, "pk", None) else None
    if rr.status == ReturnStatus.RECEIVED:
        from_status = rr.status
        reason = "refund requested"
        if rr.resolution == Resolution.REPLACEMENT:
            rr.resolution = Resolution.REFUND
            reason = "refund chosen instead of the replacement"
        rr.process(at=timezone.now())
        rr.save()
        return_event_record(
            rr=rr, from_status=from_status, to_status=rr.status, actor=actor, reason=reason
        )
    else:
        rr.save(update_fields=["refund_requested_by", "updated_at"])
    _enqueue_refund(rr)
    return rr


def _enqueue_refund(rr: ReturnRequest) -> None:
    from ..tasks import return_refund  # tasks import services: import late

    return_refund.delay_on_commit(rr.pk)
