"""Carrier adapters by name. Webhook secrets come from
`settings.WEBHOOK_SECRETS["carrier"][name]`; a carrier without one refuses
every webhook. A real carrier plugs in by adding its adapter class here."""

from __future__ import annotations

from core.webhooks import webhook_secret

from .base import Carrier
from .manual import ManualCarrier
from .test_carrier import TestCarrier

CARRIERS: dict[str, type[Carrier]] = {
    ManualCarrier.name: ManualCarrier,
    TestCarrier.name: TestCarrier,
}


class UnknownCarrier(LookupError):
    pass


def carrier_names() -> list[str]:
    return sorted(CARRIERS)


def _webhook_secret(name: str) -> str | None:
    return webhook_secret("carrier", name) or None


def get_carrier(name: str) -> Carrier:
    try:
        adapter = CARRIERS[name]
    except KeyError:
        raise UnknownCarrier(f"unknown carrier {name!r}") from None
    return adapter(webhook_secret=_webhook_secret(name))


def tracking_url(carrier: str, tracking_number: str) -> str:
    if not carrier or not tracking_number or carrier not in CARRIERS:
        return ""
    return get_carrier(carrier).tracking_url(tracking_number)
