"""Hardening: roles, deploy checks, throttling, admin lockout, headers."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.views import APIView

from core.throttling import UserRateThrottle
from tests.factories import StaffFactory, UserFactory, token_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def roles(db):
    """What the 0001_ops_roles migration creates. Run it again here: a
    transactional test elsewhere in the session flushes migration data."""
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("reports.migrations.0001_ops_roles")
    migration.create_roles(apps, SimpleNamespace(connection=connection))


@pytest.mark.usefixtures("roles")
class TestRoles:
    def perms(self, name: str) -> set[str]:
        group = Group.objects.get(name=name)
        return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}

    def test_roles_exist_with_least_privilege(self):
        reviewer = self.perms("Reviewer")
        assert "orders.review_order" in reviewer
        assert "inventory.change_stocklevel" not in reviewer
        operator = self.perms("Warehouse operator")
        assert {"fulfillment.change_shipment", "inventory.add_stockmovement"} <= operator
        assert "orders.review_order" not in operator and "payments.add_refund" not in operator
        read_only = self.perms("Read-only")
        assert read_only and all(p.split(".")[1].startswith("view_") for p in read_only)
        manager = self.perms("Manager")
        assert {"orders.review_order", "payments.add_refund"} <= manager
        assert not any(p.split(".")[1].startswith("delete_") for p in manager)

    def test_a_warehouse_operator_cannot_approve_and_a_reviewer_cannot_adjust_stock(
        self, client_for
    ):
        operator = StaffFactory()
        operator.groups.add(Group.objects.get(name="Warehouse operator"))
        reviewer = StaffFactory()
        reviewer.groups.add(Group.objects.get(name="Reviewer"))
        approve = client_for(operator).post("/api/v1/orders/US-000001/approve/", {}, format="json")
        assert approve.status_code == 403
        adjust = client_for(reviewer).post(
            "/api/v1/inventory/adjustments/",
            {"sku": "X", "warehouse": "Y", "quantity": 1, "reason": "r"},
            format="json",
        )
        assert adjust.status_code == 403


def production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {**env, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false", **extra}


def test_check_deploy_is_clean_with_production_settings():
    env = {
        **production_env(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECURE_HTTPS": "true",
        "SECRET_KEY": "k3y-" + "x1Y2z3" * 12,
        "ALLOWED_HOSTS": "orders.example.com",
        # Real integrations: the deploy check refuses the test ones.
        "PAYMENT_GATEWAYS": "default=stripe",
        "SMS_BACKEND": "shop.sms.TwilioBackend",
        "EMAIL_URL": "smtp://mailer:secret@mail.example.com:587",
        "WEBHOOK_SECRETS": "carrier:test=,gateway:stripe=whsec_1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_refuses_test_integrations_unless_allowed():
    env = {
        **production_env(),
        "SECURE_HTTPS": "true",
        "SECRET_KEY": "k3y-" + "x1Y2z3" * 12,
        "ALLOWED_HOSTS": "orders.example.com",
        "WEBHOOK_SECRETS": "carrier:test=s2",
    }
    for name in ("PAYMENT_GATEWAYS", "SMS_BACKEND", "EMAIL_URL", "ALLOW_TEST_INTEGRATIONS"):
        env.pop(name, None)
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    run = dict(cwd=ROOT, capture_output=True, text=True, timeout=120)
    refused = subprocess.run(command, env=env, **run)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    for check_id in ("orderly.E001", "orderly.E002", "orderly.E003", "orderly.E004"):
        assert check_id in output, output
    allowed = subprocess.run(
        command, env={**env, "ALLOW_TEST_INTEGRATIONS": "payments,carrier,sms,email"}, **run
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


QUICK_START_PARTS = {
    "PAYMENT_GATEWAYS": {},
    "WEBHOOK_SECRETS": {"carrier": {"test": "s2"}},
    "SMS_BACKEND": "notifications.sms.ConsoleSmsBackend",
    "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
}
REAL_PARTS = {
    "PAYMENT_GATEWAYS": {"default": "stripe"},
    "WEBHOOK_SECRETS": {"carrier": {"manual": "x"}},
    "SMS_BACKEND": "shop.sms.TwilioBackend",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
}
EVERY_PART = {"orderly.E001", "orderly.E002", "orderly.E003", "orderly.E004"}


@pytest.mark.parametrize(
    ("parts", "overrides", "fired"),
    [
        (QUICK_START_PARTS, {}, EVERY_PART),
        (QUICK_START_PARTS, {"ALLOW_TEST_INTEGRATIONS": ["all"]}, set()),
        (QUICK_START_PARTS, {"ALLOW_TEST_INTEGRATIONS": ["sms"]}, EVERY_PART - {"orderly.E003"}),
        (QUICK_START_PARTS, {"DEBUG": True}, set()),
        (REAL_PARTS, {}, set()),
        (REAL_PARTS, {"PAYMENT_GATEWAYS": {"default": "stripe", "PH": "test"}}, {"orderly.E001"}),
        (REAL_PARTS, {"PAYMENT_GATEWAYS": {"US": "stripe"}}, {"orderly.E001"}),  # no default
        (REAL_PARTS, {"PAYMENT_GATEWAYS": {"default": "stripe", "IN": {"upi": "razorpay"}}}, set()),
    ],
)
def test_deploy_check_names_each_test_part(settings, parts, overrides, fired):
    from core.checks import check_no_test_integrations

    for name, value in {
        "DEBUG": False,
        "ALLOW_TEST_INTEGRATIONS": [],
        **parts,
        **overrides,
    }.items():
        setattr(settings, name, value)
    assert {message.id for message in check_no_test_integrations()} == fired


def test_check_deploy_refuses_the_quick_start_secret():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECURE_HTTPS": "true",
    }
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "W009" in result.stdout + result.stderr


@pytest.mark.django_db
def test_throttled_requests_get_429_in_the_api_shape(monkeypatch, client_for):
    cache.clear()
    monkeypatch.setattr(APIView, "throttle_classes", [UserRateThrottle])
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    client = client_for(UserFactory())
    codes = [client.get("/api/v1/orders/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/orders/")
    assert response.json()["error"]["code"] == "THROTTLED"
    assert int(response["Retry-After"]) > 0
    cache.clear()


@pytest.mark.django_db
def test_admin_login_is_locked_after_repeated_failures(client, settings):
    cache.clear()
    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    staff = StaffFactory(username="ops")
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "ops", "password": "wrong"})
        assert response.status_code == 200  # the form again, with an error
    locked = client.post("/admin/login/", {"username": "ops", "password": "pass-word-123"})
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session  # even the right password is not tried
    cache.clear()
    ok = client.post("/admin/login/", {"username": "ops", "password": "pass-word-123"})
    assert ok.status_code == 302 and client.session["_auth_user_id"] == str(staff.pk)


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get("/api/v1/markets/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_api_token_is_required_format(client):
    response = client.get(
        "/api/v1/orders/", HTTP_AUTHORIZATION=f"Token {token_for(UserFactory())}x"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
