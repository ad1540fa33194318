"""Admin login attempts are limited per client IP and username: after
ADMIN_LOGIN_MAX_FAILURES failures the pair is locked out for
ADMIN_LOGIN_LOCKOUT_MINUTES, without even checking the password."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.shortcuts import render


def _key(request) -> str:
    username = request.POST.get("username", "").strip().lower()
    raw = f"{request.META.get('REMOTE_ADDR', '')}|{username}"
    return "admin-login-failures:" + hashlib.sha256(raw.encode()).hexdigest()


def throttled_admin_login(request, extra_context=None):
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    key = _key(request)
    window = settings.ADMIN_LOGIN_LOCKOUT_MINUTES * 60
    if cache.get(key, 0) >= settings.ADMIN_LOGIN_MAX_FAILURES:
        response = render(
            request,
            "admin/login_locked.html",
            {"minutes": settings.ADMIN_LOGIN_LOCKOUT_MINUTES, "title": "Too many attempts"},
            status=429,
        )
        response["Retry-After"] = str(window)
        return response
    response = admin.site.login(request, extra_context)
    if request.user.is_authenticated and request.user.is_staff:
        cache.delete(key)
    elif response.status_code == 200:  # the form came back: a failed attempt
        cache.add(key, 0, window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window)
    return response
