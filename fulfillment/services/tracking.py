"""Carrier events: append a TrackingEvent, move the shipment if the event
allows it, and deliver the order when its last shipment arrives."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from core.errors import NotFound

from ..carriers import CarrierEvent
from ..models import S, Shipment, TrackingEvent, TrackingStatus
from .actions import shipment_mark_delivered
from .locks import shipment_lock

APPLIED = "applied"  # the shipment moved
RECORDED = "recorded"  # kept for the timeline; the shipment's state did not allow a move
DUPLICATE = "duplicate"  # seen before: nothing changed


@dataclass(frozen=True)
class TrackingOutcome:
    status: str
    shipment: Shipment | None = None


@transaction.atomic
def tracking_event_apply(*, carrier: str, event: CarrierEvent) -> TrackingOutcome:
    """Idempotent on (carrier, event id). Late or out-of-order news (in transit
    after delivered) is recorded without moving the shipment back. Raises
    NotFound for a tracking number this carrier has no shipment for."""
    if TrackingEvent.objects.filter(carrier=carrier, event_id=event.event_id).exists():
        return TrackingOutcome(DUPLICATE)
    shipment_id = (
        Shipment.objects.filter(carrier=carrier, tracking_number=event.tracking_number)
        .values_list("pk", flat=True)
        .first()
    )
    if shipment_id is None:
        raise NotFound(f"No {carrier} shipment with tracking number {event.tracking_number}.")
    order, shipment = shipment_lock(shipment_id)
    # Re-checked under the lock: two deliveries of one event serialize here.
    tracking, created = TrackingEvent.objects.get_or_create(
        carrier=carrier,
        event_id=event.event_id,
        defaults={
            "shipment": shipment,
            "status": event.status,
            "location": event.location,
            "description": event.description,
            "occurred_at": event.occurred_at,
            "raw": event.raw,
        },
    )
    if not created:
        return TrackingOutcome(DUPLICATE)
    outcome = _move(order, shipment, event)
    tracking.outcome = outcome
    tracking.save(update_fields=["outcome"])
    return TrackingOutcome(outcome, shipment)


def _move(order, shipment: Shipment, event: CarrierEvent) -> str:
    if event.status == TrackingStatus.DELIVERED and shipment.status in (
        S.SHIPPED,
        S.IN_TRANSIT,
        S.EXCEPTION,
    ):
        shipment_mark_delivered(order=order, shipment=shipment, actor=None, at=event.occurred_at)
        return APPLIED
    if event.status == TrackingStatus.IN_TRANSIT and shipment.status in (S.SHIPPED, S.EXCEPTION):
        shipment.mark_in_transit()
    elif event.status == TrackingStatus.EXCEPTION and shipment.status in (
        S.SHIPPED,
        S.IN_TRANSIT,
    ):
        shipment.mark_exception()
    else:
        return RECORDED
    shipment.save()
    return APPLIED
