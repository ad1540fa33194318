"""Order writes. Views, tasks and the admin call these; nothing else changes
an order's state."""

from .cancelling import order_cancel
from .events import order_event_record
from .idempotency import idempotent_response, request_fingerprint
from .placing import order_place
from .pricing import Totals, compute_totals, money
from .writing import NewLine, NewPayment, OrderItemInput, order_write

__all__ = [
    "NewLine",
    "NewPayment",
    "OrderItemInput",
    "Totals",
    "compute_totals",
    "idempotent_response",
    "money",
    "order_cancel",
    "order_event_record",
    "order_place",
    "order_write",
    "request_fingerprint",
]
