"""Which gateway serves which market and method, from settings."""

import pytest

from payments.gateways.manual import ManualGateway
from payments.gateways.razorpay_gateway import RazorpayGateway
from payments.gateways.registry import UnknownGateway, gateway_for, get_gateway
from payments.gateways.stripe_gateway import StripeGateway
from payments.gateways.test_gateway import TestGateway


def test_defaults_to_the_test_gateway_and_manual_for_cod(settings):
    settings.PAYMENT_GATEWAYS = {}
    assert isinstance(gateway_for("US", "card"), TestGateway)
    assert isinstance(gateway_for("IN", "upi"), TestGateway)
    assert isinstance(gateway_for("IN", "cod"), ManualGateway)


def test_missing_settings_do_not_crash(settings):
    for name in ("PAYMENT_GATEWAYS", "WEBHOOK_SECRETS", "STRIPE_API_KEY"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert isinstance(gateway_for("US", "card"), TestGateway)
    assert get_gateway("test").webhook_secret is None
    assert isinstance(get_gateway("stripe"), StripeGateway)


def test_per_market_and_per_method_choices(settings):
    settings.PAYMENT_GATEWAYS = {
        "IN": "razorpay",
        "PH": {"card": "stripe", "default": "test"},
        "default": "stripe",
    }
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = "rzp_test_k", "s"
    assert isinstance(gateway_for("IN", "upi"), RazorpayGateway)
    assert isinstance(gateway_for("IN", "cod"), ManualGateway)
    assert isinstance(gateway_for("PH", "card"), StripeGateway)
    assert isinstance(gateway_for("PH", "upi"), TestGateway)
    assert isinstance(gateway_for("US", "card"), StripeGateway)


def test_webhook_secrets_come_from_the_parsed_setting(settings):
    settings.WEBHOOK_SECRETS = {"gateway": {"test": "s3", "stripe": "whsec_x"}, "carrier": {}}
    assert get_gateway("test").webhook_secret == "s3"
    assert get_gateway("stripe").webhook_secret == "whsec_x"
    assert get_gateway("razorpay").webhook_secret is None  # refuses every webhook


def test_unknown_gateway_name():
    with pytest.raises(UnknownGateway):
        get_gateway("paypal")
