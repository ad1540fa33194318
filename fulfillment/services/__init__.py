"""Fulfillment writes. Views, tasks and the admin call these; nothing else
changes a shipment's state."""

from .actions import (
    shipment_cancel,
    shipment_deliver,
    shipment_pack,
    shipment_ship,
)
from .creating import ShipmentItemInput, shipment_create
from .delivering import order_deliver_if_complete
from .shipping import shipment_process_shipped, shipment_retry_capture
from .tracking import TrackingOutcome, tracking_event_apply

__all__ = [
    "ShipmentItemInput",
    "TrackingOutcome",
    "order_deliver_if_complete",
    "shipment_cancel",
    "shipment_create",
    "shipment_deliver",
    "shipment_pack",
    "shipment_process_shipped",
    "shipment_retry_capture",
    "shipment_ship",
    "tracking_event_apply",
]
