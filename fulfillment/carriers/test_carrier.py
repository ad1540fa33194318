from __future__ import annotations

from urllib.parse import quote

from .base import OrderlySignedCarrier


class TestCarrier(OrderlySignedCarrier):
    """The built-in test carrier (API.md): accepts signed carrier events."""

    __test__ = False  # not a pytest test class, despite the name

    name = "test"
    TRACKING_BASE = "https://tracking.example.com/test/"

    def tracking_url(self, tracking_number: str) -> str:
        return self.TRACKING_BASE + quote(tracking_number, safe="")
