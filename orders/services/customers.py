from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from core.errors import ValidationFailed, detail

from ..models import CustomerProfile


def customer_register(*, username: str, email: str, password: str) -> tuple[object, str]:
    """Create a customer account with its API token. Returns (user, token)."""
    User = get_user_model()
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            details=[detail("password", "WEAK_PASSWORD", m) for m in exc.messages]
        ) from exc
    taken = ValidationFailed(
        details=[detail("username", "USERNAME_TAKEN", f"{username!r} is taken.")]
    )
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            CustomerProfile.objects.create(user=user)
            token = Token.objects.create(user=user)
    except IntegrityError as exc:  # lost a race for the same username
        raise taken from exc
    return user, token.key


def customer_account_ensure(user) -> str:
    """Give an existing user what a customer needs (profile, API token);
    returns the token. Idempotent."""
    CustomerProfile.objects.get_or_create(user=user)
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
