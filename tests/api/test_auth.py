"""POST /api/v1/auth/register/ and /auth/token/."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.models import CustomerProfile
from tests.factories import UserFactory
from tests.orders.support import ORDERS_URL, assert_error

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
User = get_user_model()


def register(api, username="ana", email="ana@example.com", password="a-Strong-pass-42"):
    return api.post(
        REGISTER, {"username": username, "email": email, "password": password}, format="json"
    )


class TestRegister:
    def test_creates_an_account_with_a_working_token(self, db, api):
        response = register(api)

        assert response.status_code == 201, response.json()
        body = response.json()
        assert set(body) == {"username", "email", "token"}
        assert body["username"] == "ana"
        assert body["email"] == "ana@example.com"
        user = User.objects.get(username="ana")
        assert Token.objects.get(user=user).key == body["token"]
        assert CustomerProfile.objects.filter(user=user).exists()
        assert user.check_password("a-Strong-pass-42")
        assert not user.is_staff
        assert "password" not in response.content.decode()

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
        assert client.get(ORDERS_URL).status_code == 200

    @pytest.mark.parametrize("username", ["ana", "ANA", "Ana"])
    def test_duplicate_username_is_400(self, db, api, username):
        assert register(api).status_code == 201
        response = register(api, username=username, email="other@example.com")
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert [(d["field"], d["code"]) for d in error["details"]] == [
            ("username", "USERNAME_TAKEN")
        ]
        assert User.objects.filter(username__iexact="ana").count() == 1

    @pytest.mark.parametrize(
        "password",
        ["123", "password", "12345678901", "ana-example"],
        ids=["short", "common", "numeric", "like-username"],
    )
    def test_weak_password_is_400(self, db, api, password):
        response = register(api, username="ana-example", password=password)
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert error["details"]
        assert {(d["field"], d["code"]) for d in error["details"]} == {
            ("password", "WEAK_PASSWORD")
        }
        assert not User.objects.filter(username="ana-example").exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"email": "a@example.com", "password": "a-Strong-pass-42"}, "username"),
            ({"username": "ana", "password": "a-Strong-pass-42"}, "email"),
            ({"username": "ana", "email": "not-an-email", "password": "a-Strong-pass-42"}, "email"),
            ({"username": "ana", "email": "a@example.com"}, "password"),
            (
                {"username": "ana smith", "email": "a@example.com", "password": "a-Strong-pass-42"},
                "username",
            ),
        ],
    )
    def test_bad_input_is_400(self, db, api, body, field):
        error = assert_error(api.post(REGISTER, body, format="json"), 400, "VALIDATION_FAILED")
        assert field in {d["field"] for d in error["details"]}
        assert not User.objects.exists()

    def test_registering_while_logged_in_still_works(self, db, customer_api):
        assert register(customer_api).status_code == 201


class TestToken:
    def test_returns_the_users_token(self, db, api):
        user = UserFactory(username="bob")
        response = api.post(TOKEN, {"username": "bob", "password": "pass-word-123"}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json() == {"token": Token.objects.get(user=user).key}

    def test_same_token_every_time(self, db, api):
        UserFactory(username="bob")
        creds = {"username": "bob", "password": "pass-word-123"}
        first = api.post(TOKEN, creds, format="json").json()["token"]
        second = api.post(TOKEN, creds, format="json").json()["token"]
        assert first == second

    def test_token_from_register_and_login_match(self, db, api):
        token = register(api).json()["token"]
        response = api.post(
            TOKEN, {"username": "ana", "password": "a-Strong-pass-42"}, format="json"
        )
        assert response.json()["token"] == token

    @pytest.mark.parametrize(
        ("username", "password"),
        [("bob", "wrong-password"), ("nobody", "pass-word-123")],
    )
    def test_bad_credentials_are_401(self, db, api, username, password):
        UserFactory(username="bob")
        response = api.post(TOKEN, {"username": username, "password": password}, format="json")
        error = assert_error(response, 401, "AUTHENTICATION_REQUIRED")
        assert error["details"] == []

    def test_inactive_user_gets_no_token(self, db, api):
        UserFactory(username="bob", is_active=False)
        response = api.post(TOKEN, {"username": "bob", "password": "pass-word-123"}, format="json")
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")

    def test_missing_fields_are_400(self, db, api):
        error = assert_error(api.post(TOKEN, {}, format="json"), 400, "VALIDATION_FAILED")
        assert {d["field"] for d in error["details"]} == {"username", "password"}

    def test_blank_password_is_400(self, db, api):
        UserFactory(username="bob")
        response = api.post(TOKEN, {"username": "bob", "password": ""}, format="json")
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert {d["field"] for d in error["details"]} == {"password"}


class TestTokenAuthentication:
    """core.authentication.TokenAuthentication answers as DRF's does."""

    def _client(self, key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    def test_a_valid_token_is_its_user(self, db):
        user = UserFactory()
        response = self._client(Token.objects.create(user=user).key).get(ORDERS_URL)
        assert response.status_code == 200, response.content
        assert response.wsgi_request.user == user
        assert response.wsgi_request.auth.key == Token.objects.get(user=user).key

    @pytest.mark.parametrize("key", ["f" * 40, "ab\x00cd", "f" * 41])
    def test_an_unknown_or_malformed_token_is_401(self, db, key):
        UserFactory()
        assert_error(self._client(key).get(ORDERS_URL), 401, "AUTHENTICATION_REQUIRED")

    def test_an_inactive_users_token_is_401(self, db):
        user = UserFactory(is_active=False)
        response = self._client(Token.objects.create(user=user).key).get(ORDERS_URL)
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")
