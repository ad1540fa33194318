"""Request middleware of our own.

RejectNulCharactersMiddleware refuses NUL characters in the URL before any
view sees them: PostgreSQL text columns cannot hold NUL, so a lookup with one
would fail as a 500. In the path it can only be a number that does not exist
(404); in the query it is bad input (400)."""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import JsonResponse
from django.utils.functional import SimpleLazyObject, empty

from core.exceptions import error_body


class RejectNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:  # no object's number or route holds a NUL
            return JsonResponse(error_body("NOT_FOUND", "Not found."), status=404)
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return JsonResponse(
                error_body(
                    "VALIDATION_FAILED",
                    "The request was rejected.",
                    [
                        {
                            "field": None,
                            "code": "NULL_CHARACTERS_NOT_ALLOWED",
                            "message": "NUL characters are not allowed in URLs.",
                        }
                    ],
                ),
                status=400,
            )
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages (the admin's notices), with their storage built on first
    use: an API request never uses it, and building it (a cookie storage with its
    signer, a session storage) was a few percent of an order detail's CPU. A
    storage never built holds no message, so there is nothing to save."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
