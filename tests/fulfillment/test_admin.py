"""The same fulfillment actions from the admin: buttons and actions call the
services, and refusals come back as messages."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from fulfillment.models import Shipment

BASE = "/admin/fulfillment/shipment/"


@pytest.fixture
def admin_ops(client, staff_user):
    client.force_login(staff_user)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_create_pack_ship_deliver_from_the_admin(shop, confirmed_order, admin_ops, on_commit):
    order = confirmed_order([("TSHIRT-RED-M", 2)])
    form = admin_ops.get(f"{BASE}add/", {"order": order.number})
    assert form.status_code == 200
    line = order.lines.get()
    assert f"qty_{line.pk}".encode() in form.content

    response = admin_ops.post(
        f"{BASE}add/", {"order": order.number, f"qty_{line.pk}": "2", "warehouse": ""}
    )
    created = Shipment.objects.get()
    assert response.status_code == 302
    assert created.status == "pending"
    assert created.warehouse.code == "US-EAST"

    page = admin_ops.get(f"{BASE}{created.pk}/change/")
    assert page.status_code == 200
    assert b"Packing slip" in page.content and b"Pack</button>" in page.content

    admin_ops.post(f"{BASE}{created.pk}/pack/")
    created.refresh_from_db()
    assert created.status == "packed"

    assert admin_ops.get(f"{BASE}{created.pk}/ship/").status_code == 200
    with on_commit():
        admin_ops.post(f"{BASE}{created.pk}/ship/", {"carrier": "manual", "tracking_number": "M-1"})
    created.refresh_from_db()
    order.refresh_from_db()
    assert (created.status, created.carrier, order.status) == ("shipped", "manual", "shipped")
    assert created.stock_moved_at and created.captured_at

    with on_commit():
        admin_ops.post(f"{BASE}{created.pk}/deliver/")
    order.refresh_from_db()
    assert order.status == "delivered"


def test_refusals_become_messages(shop, confirmed_order, admin_ops):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    line = order.lines.get()
    response = admin_ops.post(f"{BASE}add/", {"order": order.number, f"qty_{line.pk}": "5"})
    assert response.status_code == 200
    assert any("Only 1 of TSHIRT-RED-M left" in t for t in texts(response))
    assert not Shipment.objects.exists()

    admin_ops.post(f"{BASE}add/", {"order": order.number, f"qty_{line.pk}": "1"})
    created = Shipment.objects.get()
    response = admin_ops.post(f"{BASE}{created.pk}/deliver/", follow=True)
    assert any("only shipped, in transit or exception" in t for t in texts(response))
    created.refresh_from_db()
    assert created.status == "pending"

    response = admin_ops.post(
        BASE, {"action": "cancel_selected", "_selected_action": [created.pk]}, follow=True
    )
    created.refresh_from_db()
    assert created.status == "cancelled"


def test_actions_need_the_change_permission(shop, confirmed_order, client, on_commit):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffFactory

    order = confirmed_order([("TSHIRT-RED-M", 1)])
    viewer = StaffFactory()
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=["view_shipment", "add_shipment"])
    )
    client.force_login(viewer)
    line = order.lines.get()
    client.post(f"{BASE}add/", {"order": order.number, f"qty_{line.pk}": "1"})
    created = Shipment.objects.get()
    assert client.post(f"{BASE}{created.pk}/pack/").status_code == 403
    assert (
        client.post(
            f"{BASE}{created.pk}/ship/", {"carrier": "test", "tracking_number": "X"}
        ).status_code
        == 403
    )
    created.refresh_from_db()
    assert created.status == "pending"
