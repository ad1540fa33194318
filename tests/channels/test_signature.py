"""The channel order webhook refuses anything not signed with the channel's
own secret, with the API.md 401 and without writing a row."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from orders.models import ChannelOrder
from tests.orders.support import assert_error, assert_unchanged, snapshot

from .conftest import channel_payload, sign

pytestmark = pytest.mark.django_db


def test_a_correctly_signed_delivery_is_imported(shop, deliver):
    response = deliver(channel_payload())
    assert response.status_code == 201, response.content
    assert ChannelOrder.objects.get().order.number == response.json()["number"]


@pytest.mark.parametrize(
    ("channel", "signature"),
    [
        pytest.param("tiktok", None, id="missing"),
        pytest.param("tiktok", "", id="empty-header"),
        pytest.param("tiktok", "sha256=" + "0" * 64, id="bad"),
        pytest.param("tiktok", "s1", id="the-secret-itself"),
        pytest.param("tiktok", "other-secret", id="another-secret"),
        pytest.param("shopee", "good", id="another-channels-secret"),
        pytest.param("unknown", "good", id="unknown-channel"),
        pytest.param("silent", "good", id="empty-secret"),
    ],
)
def test_refused_deliveries_write_nothing(shop, deliver, channel, signature):
    users = get_user_model().objects.count()
    before = snapshot()
    if signature == "other-secret":
        response = deliver(channel_payload(), signature=sign(b"x", "s9"))
    elif signature == "good":
        # Signed with tiktok's secret, but sent to another channel's endpoint.
        response = deliver(channel_payload(), channel=channel)
    else:
        response = deliver(channel_payload(), channel=channel, signature=signature)
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert_unchanged(before)
    assert not ChannelOrder.objects.exists()
    assert get_user_model().objects.count() == users


def test_empty_secret_refuses_even_a_signature_made_with_it(shop, deliver):
    body = json.dumps(channel_payload()).encode()
    response = deliver(body, channel="silent", signature=sign(body, ""))
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert not ChannelOrder.objects.exists()


def test_signature_covers_the_raw_body(shop, deliver):
    body = json.dumps(channel_payload()).encode()
    tampered = body.replace(b'"19.99"', b'"0.01"')
    response = deliver(tampered, signature=sign(body))
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert not ChannelOrder.objects.exists()


def test_no_secrets_configured_refuses_everything(shop, deliver, settings):
    settings.WEBHOOK_SECRETS = {}
    response = deliver(channel_payload())
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert not ChannelOrder.objects.exists()


def test_bad_signature_on_garbage_is_still_a_401_not_a_400(shop, deliver):
    response = deliver(b"{not json", signature="sha256=00")
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert not ChannelOrder.objects.exists()
