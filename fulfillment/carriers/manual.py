from __future__ import annotations

from .base import OrderlySignedCarrier


class ManualCarrier(OrderlySignedCarrier):
    """Staff enter the tracking number and mark delivery themselves. Signed
    events are accepted too, but only where ops configured a secret for it
    (e.g. a scanning app); by default every webhook is refused."""

    name = "manual"

    def tracking_url(self, tracking_number: str) -> str:
        return ""
