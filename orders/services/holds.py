"""Typed holds: several reasons may stop an order (or one of its shipments) at
once; it moves on only when every one is released. Every change takes the
order's row lock first, so two releases of the last two holds queue on it and
exactly one of them moves the order on."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import NotFound, TransitionNotAllowed, ValidationFailed, detail

from ..models import Hold, HoldReason, Order, OrderStatus
from .events import order_event_record
from .locking import order_lock

S = OrderStatus
# Shipments that have not left the warehouse yet can still be stopped.
_SHIPMENT_HOLDABLE = ("pending", "packed")


def _check_reason(reason: str) -> None:
    if reason not in HoldReason.values:
        raise ValidationFailed(
            "The hold could not be placed.",
            details=[
                detail(
                    "reason",
                    "INVALID_HOLD_REASON",
                    f"Unknown hold reason {reason!r}; use one of {', '.join(HoldReason.values)}.",
                )
            ],
        )


def _label(hold: Hold) -> str:
    where = f" on shipment {hold.shipment.number}" if hold.shipment_id else ""
    return f"{hold.reason}{where}"


def _audit(*, order: Order, actor, text: str, from_status: str | None = None) -> None:
    """A staff-only event (who, which reason); a status move is recorded with it."""
    order_event_record(
        order=order,
        from_status=from_status or order.status,
        to_status=order.status,
        actor=actor,
        reason=text,
        staff_only=True,
    )


def _create(*, order: Order, shipment, reason: str, note: str, actor) -> Hold:
    duplicate = Hold.objects.filter(
        order=order, shipment=shipment, reason=reason, released_at__isnull=True
    ).exists()
    if not duplicate:
        try:
            with transaction.atomic():  # a savepoint: the constraint is the last word
                return Hold.objects.create(
                    order=order,
                    shipment=shipment,
                    reason=reason,
                    note=note,
                    placed_by=actor if getattr(actor, "pk", None) else None,
                    placed_at=timezone.now(),
                )
        except IntegrityError:
            pass
    target = f"Shipment {shipment.number}" if shipment is not None else f"Order {order.number}"
    raise TransitionNotAllowed(
        f"{target} already has an active {reason} hold.",
        details=[detail("reason", "HOLD_ALREADY_ACTIVE", f"{target} is already held: {reason}.")],
    )


def hold_record_at_confirmation(*, order: Order, reason: str, note: str) -> Hold:
    """Confirmation's own hold (the order already locked and moving to on_hold;
    its status event is the audit row)."""
    return _create(order=order, shipment=None, reason=reason, note=note, actor=None)


@transaction.atomic
def hold_place(
    *, order: Order | None = None, shipment=None, reason: str, note: str = "", actor
) -> Hold:
    """Hold an order (on_hold until every hold is released) or one shipment
    (cannot be packed or shipped). An order can be held while in review, or
    after confirmation while nothing has shipped."""
    if (order is None) == (shipment is None):
        raise ValueError("hold_place takes an order or a shipment, not both")
    _check_reason(reason)
    order = order_lock(shipment.order_id if shipment is not None else order.pk)
    now = timezone.now()
    if shipment is not None:
        shipment = order.shipments.select_for_update(of=("self",)).get(pk=shipment.pk)
        if shipment.status not in _SHIPMENT_HOLDABLE:
            raise TransitionNotAllowed(
                f"Shipment {shipment.number} is {shipment.status}; only pending or packed "
                "shipments can be held."
            )
        hold = _create(order=order, shipment=shipment, reason=reason, note=note, actor=actor)
        _audit(order=order, actor=actor, text=f"hold placed: {_label(hold)}" + _suffix(note))
        return hold
    from_status = order.status
    if order.status in (S.CONFIRMED, S.PROCESSING):
        if order.lines.filter(quantity_shipped__gt=0).exists():
            raise TransitionNotAllowed(
                f"Order {order.number} has shipped items; hold its open shipments instead."
            )
        hold = _create(order=order, shipment=None, reason=reason, note=note, actor=actor)
        order.hold_in_fulfillment(at=now)
        order.save()
    elif order.status == S.ON_HOLD:
        hold = _create(order=order, shipment=None, reason=reason, note=note, actor=actor)
    else:
        raise TransitionNotAllowed(
            f"Order {order.number} is {order.status}; only confirmed or processing orders with "
            "nothing shipped, or orders already on hold, can be held."
        )
    _audit(
        order=order,
        actor=actor,
        from_status=from_status,
        text=f"hold placed: {_label(hold)}" + _suffix(note),
    )
    return hold


def _suffix(note: str) -> str:
    return f" ({note})" if note else ""


def _mark_released(hold: Hold, *, actor, note: str, at) -> None:
    hold.released_at = at
    hold.released_by = actor if getattr(actor, "pk", None) else None
    hold.release_note = note
    hold.save(update_fields=["released_at", "released_by", "release_note"])


def _move_on(order: Order, *, actor, note: str) -> bool:
    """The last order hold is gone: back to where a hold after confirmation
    found it. Held at confirmation, the order needs review's approval (stock
    committed there), so it is left for the caller; returns whether it moved."""
    if order.status != S.ON_HOLD or not order.hold_resume_status:
        return False
    from_status = order.status
    order.resume()
    order.save()
    order_event_record(
        order=order,
        from_status=from_status,
        to_status=order.status,
        actor=actor,
        reason=note or "all holds released",
    )
    return True


@transaction.atomic
def hold_release(*, hold_id: int, actor, note: str = "") -> Hold:
    """Release one hold; releasing an order's last one moves it on (back to
    confirmed or processing; an order held at confirmation is approved)."""
    order_id = Hold.objects.filter(pk=hold_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound(f"No hold {hold_id}.")
    order = order_lock(order_id)
    hold = Hold.objects.select_for_update(of=("self",)).select_related("shipment").get(pk=hold_id)
    if hold.released_at is not None:
        raise TransitionNotAllowed(f"Hold {hold.pk} ({hold.reason}) was already released.")
    _mark_released(hold, actor=actor, note=note, at=timezone.now())
    _audit(order=order, actor=actor, text=f"hold released: {_label(hold)}" + _suffix(note))
    last = (
        hold.shipment_id is None
        and not order.holds.filter(shipment__isnull=True, released_at__isnull=True).exists()
    )
    if last and not _move_on(order, actor=actor, note=note) and order.status == S.ON_HOLD:
        from .confirming import order_approve  # confirming imports this module

        order_approve(order=order, actor=actor, note=note)
    return hold


def holds_release_all(*, order: Order, actor, note: str = "", move_on: bool = True) -> bool:
    """Review's approve (move_on: every order-level hold) or the order's end
    (reject, cancel: every hold, its shipments' too). Call with the order
    locked. Returns True when the order went back to confirmed/processing, so
    the caller must not approve it."""
    now = timezone.now()
    holds = order.holds.select_for_update(of=("self",)).filter(released_at__isnull=True)
    if move_on:
        holds = holds.filter(shipment__isnull=True)
    for hold in holds.select_related("shipment").order_by("pk"):
        _mark_released(hold, actor=actor, note=note, at=now)
        _audit(order=order, actor=actor, text=f"hold released: {_label(hold)}" + _suffix(note))
    return move_on and _move_on(order, actor=actor, note=note)


def holds_release_for_shipment(*, order: Order, shipment, actor, note: str) -> int:
    """The shipment was cancelled: its holds have nothing left to stop (its
    units go into another shipment, which is held afresh if need be). Call with
    the order locked. Returns how many were released."""
    now = timezone.now()
    holds = (
        Hold.objects.select_for_update(of=("self",))
        .filter(shipment=shipment, released_at__isnull=True)
        .select_related("shipment")
        .order_by("pk")
    )
    released = 0
    for hold in holds:
        _mark_released(hold, actor=actor, note=note, at=now)
        _audit(order=order, actor=actor, text=f"hold released: {_label(hold)}" + _suffix(note))
        released += 1
    return released


def hold_guard_shipment(*, shipment) -> None:
    """Refuse to pack or ship a shipment with an active hold (called with the
    order locked, so a hold placed meanwhile is seen)."""
    reasons = list(
        Hold.objects.filter(shipment=shipment, released_at__isnull=True).values_list(
            "reason", flat=True
        )
    )
    if reasons:
        raise TransitionNotAllowed(
            f"Shipment {shipment.number} is on hold ({', '.join(reasons)}).",
            details=[
                detail(
                    None,
                    "SHIPMENT_ON_HOLD",
                    f"Release the shipment's holds first: {', '.join(reasons)}.",
                )
            ],
        )
