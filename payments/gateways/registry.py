"""Which adapter serves which market and method, from Django settings.

Settings (all optional): `PAYMENT_GATEWAYS` maps a market code to a gateway name, or to
`{method: name}`, with an optional "default" entry (e.g. `{"IN": "razorpay",
"default": "stripe"}`); without it every card/UPI payment uses the built-in "test"
gateway. `cod` always uses "manual". Credentials: `STRIPE_API_KEY`,
`RAZORPAY_KEY_ID`, `RAZORPAY_KEY_SECRET`; webhook secrets from
`WEBHOOK_SECRETS["gateway"][name]` (a gateway without one refuses every webhook).
"""

from __future__ import annotations

from django.conf import settings

from core.webhooks import webhook_secret

from .base import PaymentGateway
from .manual import ManualGateway
from .razorpay_gateway import RazorpayGateway
from .stripe_gateway import StripeGateway
from .test_gateway import TestGateway

GATEWAY_NAMES = ("test", "manual", "stripe", "razorpay")
COD = "cod"


class UnknownGateway(LookupError):
    pass


def _webhook_secret(name: str) -> str | None:
    return webhook_secret("gateway", name) or None


def get_gateway(name: str) -> PaymentGateway:
    if name == "test":
        return TestGateway(webhook_secret=_webhook_secret("test"))
    if name == "manual":
        return ManualGateway()
    if name == "stripe":
        return StripeGateway(
            api_key=getattr(settings, "STRIPE_API_KEY", "") or "",
            webhook_secret=_webhook_secret("stripe"),
            timeout=settings.GATEWAY_TIMEOUT_SECONDS,
            max_network_retries=settings.GATEWAY_NETWORK_RETRIES,
        )
    if name == "razorpay":
        return RazorpayGateway(
            key_id=getattr(settings, "RAZORPAY_KEY_ID", "") or "",
            key_secret=getattr(settings, "RAZORPAY_KEY_SECRET", "") or "",
            webhook_secret=_webhook_secret("razorpay"),
            timeout=settings.GATEWAY_TIMEOUT_SECONDS,
        )
    raise UnknownGateway(f"unknown payment gateway {name!r}")


def gateway_name_for(market_code: str, method: str) -> str:
    if method == COD:
        return "manual"
    mapping = getattr(settings, "PAYMENT_GATEWAYS", None) or {}
    choice = mapping.get(market_code, mapping.get("default", "test"))
    if isinstance(choice, dict):
        choice = choice.get(method, choice.get("default", "test"))
    return choice


def gateway_for(market_code: str, method: str) -> PaymentGateway:
    return get_gateway(gateway_name_for(market_code, method))
