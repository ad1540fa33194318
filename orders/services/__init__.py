"""Order writes. Views, tasks and the admin call these; nothing else changes
an order's state."""

from .cancelling import order_cancel
from .events import order_event_record
from .idempotency import idempotent_response, request_fingerprint
from .placing import OrderItemInput, order_place
from .pricing import Totals, compute_totals, money

__all__ = [
    "OrderItemInput",
    "Totals",
    "compute_totals",
    "idempotent_response",
    "money",
    "order_cancel",
    "order_event_record",
    "order_place",
    "request_fingerprint",
]
