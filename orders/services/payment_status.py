"""The order's `payment_status` mirrors its Payment's status: one function sets
it, for every path that moves a payment (confirmation, capture on shipping,
refunds, gateway webhooks, authorization expiry, reconciliation)."""

from __future__ import annotations

from django.db import transaction

from operations.services import error_record
from payments.models import Payment

from ..models import SHIPPABLE, Order
from .locking import order_lock


def order_mirror_payment(
    order: Order, payment: Payment | None = None, *, save: bool = True
) -> bool:
    """Copy the payment's status onto `order` (locked by the caller); True when
    it changed. `save=False` leaves the save to a caller that saves the order anyway."""
    status = (
        payment.status
        if payment is not None
        else Payment.objects.filter(order_id=order.pk).values_list("status", flat=True).first()
    )
    if status is None or order.payment_status == status:
        return False
    order.payment_status = status
    if save:
        order.save(update_fields=["payment_status", "updated_at"])
    return True


def order_sync_payment_status(*, order_id: int) -> Order:
    """The payment moved (a capture, a gateway webhook): mirror it on the order,
    and flag an order whose goods can no longer be paid for."""
    with transaction.atomic():
        order = order_lock(order_id)
        payment = Payment.objects.get(order_id=order_id)
        if order_mirror_payment(order, payment) and (
            order.status in SHIPPABLE and not payment.covers_shipping
        ):
            # Voided or failed at the gateway (an expired hold, a dashboard
            # void) while goods are still to ship: shipping is refused until
            # ops re-authorize or cancel.
            error_record(
                category="payment",
                severity="error",
                step="order_sync_payment",
                order_id=order.pk,
                message=f"Payment {payment.status} at the gateway while the order is "
                f"{order.status}: nothing can be captured for its goods, so they will "
                "not ship. Ask the customer to pay again, or cancel.",
            )
    return order
