from __future__ import annotations

from core.errors import ValidationFailed, detail

from ..models import Order, OrderEvent


def actor_label(actor) -> str:
    return getattr(actor, "username", None) or "system"


def order_event_record(**fields) -> OrderEvent:
    """One audit row, written now (the fields are `order_event_build`'s);
    called by services in the same transaction as the change."""
    event = order_event_build(**fields)
    event.save()
    return event


def order_event_build(
    *,
    order: Order,
    from_status: str,
    to_status: str,
    actor,
    reason: str = "",
    customer_reason: str | None = None,
    staff_only: bool = False,
) -> OrderEvent:
    """One audit row, not yet saved (`order_write` writes it with the order's
    other rows in one statement). The customer's history shows
    `customer_reason` when given, else `reason`, and leaves `staff_only` rows out."""
    return OrderEvent(
        order=order,
        from_status=from_status,
        to_status=to_status,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_label(actor),
        reason=reason,
        customer_reason=customer_reason,
        staff_only=staff_only,
    )


def order_note_add(*, order: Order, actor, note: str) -> OrderEvent:
    """A staff-only note for the audit trail (a reviewer's finding, a call with
    the customer): an event whose status does not change."""
    note = note.strip()
    if not note:
        raise ValidationFailed(details=[detail("note", "REQUIRED", "Write the note.")])
    return order_event_record(
        order=order,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        reason=note,
        staff_only=True,
    )
