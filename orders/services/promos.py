from __future__ import annotations

from django.db.models import F

from ..models import Order, PromoCode, PromoRedemption


def promo_return_use(*, order: Order) -> None:
    """A cancelled order (by the customer, a declined payment or a reviewer)
    gives its promo use back, so a capped code is not used up by orders that
    never happened. Call under the order's row lock, once per cancellation."""
    redemption = PromoRedemption.objects.filter(order=order).first()
    if redemption is not None:
        PromoCode.objects.filter(pk=redemption.promo_id, times_used__gt=0).update(
            times_used=F("times_used") - 1
        )
