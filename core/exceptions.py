"""One exception handler for the whole API: every error leaves in the API.md
shape `{"error": {"code", "message", "details"}}` and never with a trace."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import DomainError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    drf.NotAuthenticated: (
        "AUTHENTICATION_REQUIRED",
        "Authentication credentials were not provided.",
    ),
    drf.AuthenticationFailed: ("AUTHENTICATION_REQUIRED", "Invalid authentication credentials."),
    drf.PermissionDenied: ("PERMISSION_DENIED", "You do not have permission to do this."),
    drf.NotFound: ("NOT_FOUND", "Not found."),
    drf.MethodNotAllowed: ("METHOD_NOT_ALLOWED", "Method not allowed."),
    drf.NotAcceptable: ("NOT_ACCEPTABLE", "Cannot satisfy the request's Accept header."),
    drf.UnsupportedMediaType: ("UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json."),
    drf.Throttled: ("THROTTLED", "Too many requests; slow down."),
}


def error_body(code: str, message: str, details: list[dict] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def flatten_serializer_errors(errors, prefix: str = "") -> list[dict]:
    """DRF's nested error dict/list → API.md details with `items[0].quantity`
    paths and upper-case codes."""
    out: list[dict] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int):  # ListField reports child errors by index
                out.extend(flatten_serializer_errors(value, f"{prefix}[{key}]"))
                continue
            name = "" if key in ("non_field_errors", "detail") else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.extend(flatten_serializer_errors(value, path))
    elif isinstance(errors, list):
        if errors and all(isinstance(e, drf.ErrorDetail) for e in errors):
            for e in errors:
                out.append(
                    {"field": prefix or None, "code": str(e.code).upper(), "message": str(e)}
                )
        else:
            for index, value in enumerate(errors):
                if value:
                    out.extend(flatten_serializer_errors(value, f"{prefix}[{index}]"))
    elif isinstance(errors, drf.ErrorDetail):
        out.append(
            {"field": prefix or None, "code": str(errors.code).upper(), "message": str(errors)}
        )
    return out


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, drf.ParseError):
        return Response(
            error_body(
                "VALIDATION_FAILED",
                "The request body is not valid JSON.",
                [{"field": None, "code": "MALFORMED_JSON", "message": str(exc.detail)}],
            ),
            status=400,
        )
    if isinstance(exc, drf.ValidationError):
        set_rollback()
        return Response(
            error_body(
                "VALIDATION_FAILED",
                "The request was rejected.",
                flatten_serializer_errors(exc.detail),
            ),
            status=400,
        )
    if isinstance(exc, drf.APIException):
        code, message = next(
            (v for cls, v in _DRF_CODES.items() if isinstance(exc, cls)),
            (str(exc.default_code).upper(), str(exc.detail)),
        )
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if isinstance(exc, drf.Throttled) and exc.wait is not None:
            # DRF has rounded the wait up to whole seconds already; never "0".
            seconds = max(int(exc.wait), 1)
            headers["Retry-After"] = str(seconds)
            message = f"Too many requests; retry in {seconds} seconds."
        set_rollback()
        return Response(error_body(code, message), status=exc.status_code, headers=headers)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away mid-request: the transaction rolled back.
        logger.warning("database unavailable: %s", exc)
        set_rollback()
        return Response(
            error_body("SERVICE_UNAVAILABLE", "The database is unavailable; nothing was changed."),
            status=503,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        set_rollback()
        return Response(
            error_body("INTERNAL_ERROR", "Something went wrong on our side."), status=500
        )
    return None  # Unknown: Django's handler500 answers in the same shape.


def handler404(request, exception=None):
    return JsonResponse(error_body("NOT_FOUND", "Not found."), status=404)


API_NOT_FOUND = "api-not-found"


@csrf_exempt  # it changes nothing; a session's POST gets the JSON 404, not an HTML 403
def api_not_found(request):
    """Every /api/ URL that no route matched (the last URL pattern): the JSON
    404 whatever DEBUG says, where Django would show its HTML page. A URL that
    exists with a trailing slash is redirected there, keeping the method and
    body (308; 301 for GET and HEAD), since APPEND_SLASH cannot redirect a POST."""
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != API_NOT_FOUND:
            redirect = (
                HttpResponsePermanentRedirect
                if request.method in ("GET", "HEAD")
                else _PermanentRedirectKeepingMethod
            )
            return redirect(request.get_full_path(force_append_slash=True))
    return JsonResponse(error_body("NOT_FOUND", f"No API endpoint at {request.path}."), status=404)


class _PermanentRedirectKeepingMethod(HttpResponsePermanentRedirect):
    status_code = 308


def handler500(request):
    return JsonResponse(
        error_body("INTERNAL_ERROR", "Something went wrong on our side."), status=500
    )


def handler403(request, exception=None):
    return JsonResponse(error_body("PERMISSION_DENIED", "Permission denied."), status=403)


def handler400(request, exception=None):
    return JsonResponse(error_body("VALIDATION_FAILED", "Bad request."), status=400)
