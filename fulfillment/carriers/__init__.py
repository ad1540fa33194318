from core.signatures import sign  # what carriers (and tests) send

from .base import (
    Carrier,
    CarrierEvent,
    CarrierPayloadError,
    CarrierSignatureError,
)
from .registry import UnknownCarrier, carrier_names, get_carrier, tracking_url

__all__ = [
    "Carrier",
    "CarrierEvent",
    "CarrierPayloadError",
    "CarrierSignatureError",
    "UnknownCarrier",
    "carrier_names",
    "get_carrier",
    "sign",
    "tracking_url",
]
