"""Sweeps run by beat (and by hand as manage.py commands). Each is safe to run
twice at once: every order is re-checked under its row lock by the service
that moves it, and a second runner simply finds nothing left to do."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from core.errors import TransitionNotAllowed
from inventory.models import ReservationStatus

from ..models import Order, OrderStatus
from .cancelling import order_cancel

logger = logging.getLogger(__name__)
EXPIRED_REASON = "reservation expired before the order was confirmed"


def orders_expire_unconfirmed(*, now=None, limit: int = 500) -> list[str]:
    """Cancel `pending` orders whose stock reservation expired: the stock goes
    back on sale and any authorization is voided. Held orders are exempt: a
    reviewer is deciding and their stock stays put."""
    now = now or timezone.now()
    numbers = list(
        Order.objects.filter(
            status=OrderStatus.PENDING,
            lines__reservations__status=ReservationStatus.ACTIVE,
            lines__reservations__expires_at__lt=now,
        )
        .distinct()
        .order_by("pk")
        .values_list("number", flat=True)[:limit]
    )
    cancelled = []
    for number in numbers:
        try:
            order_cancel(order=Order.objects.get(number=number), actor=None, reason=EXPIRED_REASON)
            cancelled.append(number)
        except TransitionNotAllowed:
            continue  # confirmed or cancelled meanwhile (another runner, or the worker)
    return cancelled


def orders_requeue_stuck(*, now=None, limit: int = 500) -> list[str]:
    """Re-enqueue confirmation of orders `pending` longer than
    CONFIRMATION_REQUEUE_SECONDS (a message lost while the broker was down; a
    crashed worker's message comes back sooner, by the broker's redelivery).
    Confirmation is idempotent, so a duplicate enqueue is harmless."""
    from ..tasks import order_confirm

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CONFIRMATION_REQUEUE_SECONDS)
    stuck = list(
        Order.objects.filter(status=OrderStatus.PENDING, created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", "number")[:limit]
    )
    for pk, number in stuck:
        logger.warning("order %s stuck in pending; re-enqueueing confirmation", number)
        order_confirm.delay(pk)
    return [number for _, number in stuck]
