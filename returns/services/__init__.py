"""Return writes. Views, the admin and the refund worker call these; nothing
else changes a return's state."""

from .creating import ReturnItemInput, return_create
from .receiving import ReceivedItemInput, return_receive, return_replace
from .refunding import return_refund_issue
from .workflow import (
    return_approve,
    return_cancel,
    return_mark_in_transit,
    return_reject,
    return_request_refund,
    return_schedule_pickup,
)

__all__ = [
    "ReceivedItemInput",
    "ReturnItemInput",
    "return_approve",
    "return_cancel",
    "return_create",
    "return_mark_in_transit",
    "return_receive",
    "return_refund_issue",
    "return_reject",
    "return_replace",
    "return_request_refund",
    "return_schedule_pickup",
]
