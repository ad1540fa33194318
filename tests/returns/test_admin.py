"""The admin drives the same workflow: buttons open step pages that call the
services, and refusals come back as messages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory.models import MovementKind, StockMovement
from returns.models import ReturnRequest

from .support import delivered_order, open_return

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def step_url(rr, name):
    return reverse("admin:returns_returnrequest_step", args=[rr.pk, name])


def test_receive_from_the_admin(shop, customer, customer_api, admin_client):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 2)])
    number = open_return(customer_api, order, [("TSHIRT-RED-M", 2)]).json()["number"]
    rr = ReturnRequest.objects.get(number=number)
    change = admin_client.get(reverse("admin:returns_returnrequest_change", args=[rr.pk]))
    assert change.status_code == 200
    assert step_url(rr, "approve") in change.content.decode()
    assert step_url(rr, "receive") not in change.content.decode()

    for name in ("approve", "schedule_pickup"):
        assert admin_client.post(step_url(rr, name), {}).status_code == 302
    page = admin_client.get(step_url(rr, "receive"))
    assert page.status_code == 200 and "resellable" in page.content.decode()
    line = rr.lines.get()
    response = admin_client.post(
        step_url(rr, "receive"), {f"resellable_{line.pk}": 1, f"damaged_{line.pk}": 1}
    )
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.status == "received"
    assert list(
        StockMovement.objects.filter(
            kind__in=[MovementKind.RETURN, MovementKind.WRITE_OFF]
        ).values_list("kind", "on_hand_delta")
    ) == [("write_off", -1), ("return", 1), ("return", 1)]  # newest first


def test_refusals_become_messages(shop, customer, customer_api, admin_client):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 1)])
    number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
    rr = ReturnRequest.objects.get(number=number)
    response = admin_client.post(step_url(rr, "schedule_pickup"), {}, follow=True)
    assert "cannot be scheduled for pickup" in response.content.decode()
    assert ReturnRequest.objects.get(pk=rr.pk).status == "initiated"
    response = admin_client.post(step_url(rr, "reject"), {"reason": "outside policy"}, follow=True)
    assert ReturnRequest.objects.get(pk=rr.pk).status == "rejected"


def test_bulk_approve(shop, customer, customer_api, admin_client):
    order = delivered_order(customer, "US", [("TSHIRT-RED-M", 2)])
    numbers = [
        open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"] for _ in range(2)
    ]
    ids = list(ReturnRequest.objects.filter(number__in=numbers).values_list("pk", flat=True))
    response = admin_client.post(
        reverse("admin:returns_returnrequest_changelist"),
        {"action": "approve_selected", "_selected_action": ids},
    )
    assert response.status_code == 302
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == {"approved"}
