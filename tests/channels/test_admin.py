"""Channel imports in the admin: the list with its filters, the raw payload
shown read-only, and "Replay selected" importing what was held."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders.channels.services import channel_order_replay
from orders.models import ChannelOrder, Order
from tests.orders.support import assert_ledger_agrees, level_of, product

from .conftest import channel_payload

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:orders_channelorder_changelist"
NEW_SKU = [{"sku": "CAP-BLUE", "quantity": 2, "unit_price": "12.00"}]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def replay(admin_client, *rows, on_commit):
    with on_commit():
        return admin_client.post(
            reverse(CHANGELIST),
            {"action": "replay_selected", "_selected_action": [r.pk for r in rows]},
            follow=True,
        )


def test_unknown_sku_is_held_then_replayed_from_the_admin_once_it_exists(
    shop, deliver, admin_client, on_commit
):
    held = deliver(channel_payload("TT-CAP", items=NEW_SKU, total="25.92"))
    assert held.json() == {"status": "held", "reason": "PRODUCT_NOT_FOUND"}
    row = ChannelOrder.objects.get()

    response = replay(admin_client, row, on_commit=on_commit)  # still unknown
    assert response.status_code == 200
    assert any("still held: PRODUCT_NOT_FOUND" in m for m in messages_of(response))
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("held", 2)

    cap = product("CAP-BLUE", {"US": "12.00"}, {shop.us_wh: 5})
    response = replay(admin_client, row, on_commit=on_commit)

    row.refresh_from_db()
    assert (row.status, row.reason, row.attempts) == ("imported", "", 3)
    order = row.order
    assert any(f"imported as {order.number}" in m for m in messages_of(response))
    assert (order.status, order.payment_status, order.total) == (
        "confirmed",
        "captured",
        Decimal("25.92"),
    )
    assert level_of(cap, shop.us_wh).reserved == 2
    staff = response.wsgi_request.user
    placed = order.events.get(reason="placed")
    assert placed.actor == staff  # who replayed it
    assert_ledger_agrees()

    # Imported once: a replay or a redelivery afterwards changes nothing.
    response = replay(admin_client, row, on_commit=on_commit)
    assert any("already imported" in m for m in messages_of(response))
    again = deliver(channel_payload("TT-CAP", items=NEW_SKU, total="25.92"))
    assert again.status_code == 200
    assert again.json() == {"number": order.number, "status": "pending"}  # as imported
    assert Order.objects.count() == 1
    assert level_of(cap, shop.us_wh).reserved == 2


def test_replaying_an_unkeyed_failure_says_why_not(shop, deliver, admin_client, on_commit):
    deliver(b"not json at all")
    row = ChannelOrder.objects.get()
    response = replay(admin_client, row, on_commit=on_commit)
    assert any("no usable external id" in m for m in messages_of(response))
    row.refresh_from_db()
    assert row.status == "failed"


def test_list_filters_and_read_only_payload(shop, deliver, admin_client):
    deliver(channel_payload("TT-OK"))
    deliver(channel_payload("TT-NOSKU", items=NEW_SKU, total="25.92"))
    deliver(
        channel_payload("TT-NOSTOCK", items=[{**NEW_SKU[0], "sku": "TSHIRT-RED-M", "quantity": 99}])
    )
    deliver(b"{broken")

    listing = admin_client.get(reverse(CHANGELIST))
    assert listing.status_code == 200
    html = listing.content.decode()
    for external_id in ("TT-OK", "TT-NOSKU", "TT-NOSTOCK"):
        assert external_id in html

    held = admin_client.get(reverse(CHANGELIST), {"status": "held"})
    shown = {r.external_id for r in held.context["cl"].result_list}
    assert shown == {"TT-NOSKU", "TT-NOSTOCK"}
    by_reason = admin_client.get(reverse(CHANGELIST), {"reason": "INSUFFICIENT_STOCK"})
    assert {r.external_id for r in by_reason.context["cl"].result_list} == {"TT-NOSTOCK"}
    failed = admin_client.get(reverse(CHANGELIST), {"status": "failed"})
    assert [r.external_id for r in failed.context["cl"].result_list] == [None]

    row = ChannelOrder.objects.get(external_id="TT-NOSKU")
    page = admin_client.get(reverse("admin:orders_channelorder_change", args=[row.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "CAP-BLUE" in html and "PRODUCT_NOT_FOUND" in html
    assert 'name="raw_body"' not in html and 'name="status"' not in html  # read-only
    assert admin_client.get(reverse("admin:orders_channelorder_add")).status_code == 403


def test_replay_needs_an_existing_row():
    from core.errors import NotFound

    with pytest.raises(NotFound):
        channel_order_replay(channel_order_id=999_999, actor=None)


def test_a_held_import_is_a_processing_error_until_it_imports(
    shop, deliver, admin_client, on_commit
):
    from operations.models import ProcessingError

    deliver(channel_payload("TT-ERR", items=NEW_SKU, total="25.92"))
    [error] = ProcessingError.objects.filter(step="channel_import")
    assert (error.category, error.severity, error.reference) == (
        "import_validation",
        "warning",
        "tiktok:TT-ERR",
    )
    assert not error.resolved and "PRODUCT_NOT_FOUND" in str(error.details)

    product("CAP-BLUE", {"US": "12.00"}, {shop.us_wh: 5})
    replay(admin_client, ChannelOrder.objects.get(), on_commit=on_commit)

    error.refresh_from_db()
    assert error.resolved
