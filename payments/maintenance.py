"""Payment reads for the beat jobs: authorizations about to lapse at the gateway.

A card authorization is held only so long (AUTHORIZATION_EXPIRY_DAYS per gateway);
AUTHORIZATION_EXPIRY_WARN_HOURS before that, the orders app captures what shipped
or flags the order for staff (`jobs.authorization_expiry`). Payments never
imports orders, so this module only finds the payments and says when they lapse.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .gateways.registry import UnknownGateway, get_gateway
from .models import Payment, PaymentMethod, PaymentStatus

DEFAULT_EXPIRY_DAYS = 7
DEFAULT_WARN_HOURS = 24
# Still holding an authorization (a partial capture leaves the rest held on
# gateways that take several captures).
HOLDING = (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)


def authorization_expiry_days(gateway: str) -> int:
    days = getattr(settings, "AUTHORIZATION_EXPIRY_DAYS", None) or {}
    return int(days.get(gateway, days.get("default", DEFAULT_EXPIRY_DAYS)))


def authorization_warn_hours() -> int:
    return int(getattr(settings, "AUTHORIZATION_EXPIRY_WARN_HOURS", DEFAULT_WARN_HOURS))


def authorization_expires_at(payment: Payment) -> datetime | None:
    if payment.authorized_at is None:
        return None
    return payment.authorized_at + timedelta(days=authorization_expiry_days(payment.gateway))


def _holds_authorization(payment: Payment) -> bool:
    if payment.status == PaymentStatus.AUTHORIZED:
        return True
    try:
        gateway = get_gateway(payment.gateway)
    except UnknownGateway:
        return False
    # After one capture, single-capture gateways release the rest themselves.
    return gateway.supports_multiple_captures


def payments_with_expiring_authorization(*, now: datetime | None = None) -> list[Payment]:
    """Card/UPI payments still holding (part of) an authorization that lapses
    within AUTHORIZATION_EXPIRY_WARN_HOURS (or has lapsed already), oldest first."""
    now = now or timezone.now()
    warn = timedelta(hours=authorization_warn_hours())
    gateways = _holding().order_by().values_list("gateway", flat=True).distinct()
    due = Q(pk__in=[])
    for gateway in sorted(gateways):
        cutoff = now + warn - timedelta(days=authorization_expiry_days(gateway))
        due |= Q(gateway=gateway, authorized_at__lte=cutoff)
    candidates = _holding().filter(due).order_by("authorized_at", "pk")
    return [payment for payment in candidates if _holds_authorization(payment)]


def _holding() -> QuerySet[Payment]:
    return Payment.objects.filter(
        status__in=HOLDING, authorized_at__isnull=False, amount_captured__lt=F("amount_authorized")
    ).exclude(method=PaymentMethod.COD)
