"""`manage.py check --deploy`: production refuses the parts built for tests and
the quick start (the test payment gateway, the test carrier, console or
in-memory SMS and e-mail), unless ALLOW_TEST_INTEGRATIONS names them
(`payments,carrier,sms,email` or `all`), e.g. for a staging site."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from .webhooks import webhook_secret

TEST_GATEWAY = "test"
TEST_CARRIER = "test"
TEST_SMS_BACKENDS = {"notifications.sms.ConsoleSmsBackend", "notifications.sms.LocmemSmsBackend"}
TEST_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}
PARTS = ("payments", "carrier", "sms", "email")


def _allowed() -> set[str]:
    allowed = set(getattr(settings, "ALLOW_TEST_INTEGRATIONS", ()) or ())
    return set(PARTS) if "all" in allowed else allowed


def _gateway_names(mapping) -> set[str]:
    names = set()
    for value in mapping.values():
        names |= _gateway_names(value) if isinstance(value, dict) else {value}
    return names


def _uses_test_gateway() -> bool:
    """Card/UPI payments go to the test gateway for any market the mapping does
    not name, unless it has a "default"; or wherever it names "test"."""
    mapping = getattr(settings, "PAYMENT_GATEWAYS", None) or {}
    return "default" not in mapping or TEST_GATEWAY in _gateway_names(mapping)


def _test_carrier_live() -> bool:
    """The test carrier takes signed tracking events once it has a secret."""
    return bool(webhook_secret("carrier", TEST_CARRIER))


@checks.register(checks.Tags.security, deploy=True)
def check_no_test_integrations(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    allowed = _allowed()
    found = {
        "payments": _uses_test_gateway()
        and "card and UPI payments would go to the built-in test gateway "
        '(set PAYMENT_GATEWAYS with a "default", e.g. default=stripe)',
        "carrier": _test_carrier_live()
        and "the built-in test carrier accepts tracking events (WEBHOOK_SECRETS carrier:test)",
        "sms": settings.SMS_BACKEND in TEST_SMS_BACKENDS
        and f"text messages go to {settings.SMS_BACKEND}, not to customers",
        "email": settings.EMAIL_BACKEND in TEST_EMAIL_BACKENDS
        and f"e-mail goes to {settings.EMAIL_BACKEND}, not to customers (set EMAIL_URL)",
    }
    return [
        checks.Error(
            f"Test integration in production: {problem}.",
            hint=f"Configure a real one, or allow it with ALLOW_TEST_INTEGRATIONS={part}.",
            id=f"orderly.E00{i}",
        )
        for i, (part, problem) in enumerate(found.items(), start=1)
        if problem and part not in allowed
    ]
