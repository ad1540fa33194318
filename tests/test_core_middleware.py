"""core.middleware.LazyMessageMiddleware: messages' storage built on first use."""

import pytest
from django.contrib import messages
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from core.middleware import LazyMessageMiddleware
from tests.factories import UserFactory


def _run(view):
    request = RequestFactory().get("/")
    request.session = {}
    middleware = LazyMessageMiddleware(lambda req: view(req))
    return request, middleware(request)


def test_a_request_without_messages_builds_no_storage():
    request, response = _run(lambda req: HttpResponse("ok"))
    assert request._messages._wrapped is empty
    assert "messages" not in response.cookies


def test_a_message_added_is_stored_for_the_next_request():
    def view(req):
        messages.success(req, "Order approved.")
        return HttpResponse("ok")

    _, response = _run(view)
    assert "messages" in response.cookies  # the cookie storage holds it
    following = RequestFactory().get("/")
    following.COOKIES["messages"] = response.cookies["messages"].value
    following.session = {}
    LazyMessageMiddleware(lambda req: HttpResponse()).process_request(following)
    assert [str(m) for m in messages.get_messages(following)] == ["Order approved."]


@pytest.mark.django_db
def test_api_responses_set_no_messages_cookie(client_for):
    response = client_for(UserFactory()).get("/api/v1/orders/")
    assert response.status_code == 200
    assert "messages" not in response.cookies
