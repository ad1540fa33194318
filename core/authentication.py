"""API authentication."""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.sql import columns, select_models


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, with the token's user read in one plain
    statement: every API request runs it, and the ORM's compile of the join
    cost more than the statement. Same answers, same messages."""

    def authenticate_credentials(self, key):
        # PostgreSQL refuses NUL in text (an error, not "no such token"), and no
        # key is longer than the column.
        if "\x00" in key or len(key) > Token._meta.get_field("key").max_length:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = next(iter(select_models(_user_by_token(), [key], get_user_model())), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user)
        token._state.adding = False
        token._state.db = user._state.db
        return user, token


@functools.cache
def _user_by_token() -> str:
    users = get_user_model()._meta.db_table
    return (
        f"SELECT {columns(get_user_model(), 'u')} FROM {Token._meta.db_table} t "
        f"JOIN {users} u ON u.id = t.user_id WHERE t.key = %s"
    )
