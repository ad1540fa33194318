"""Every shipment action records who did it: on the shipment, in the order's
audit trail (the ship step moves the order as the person who shipped) and on
the capture it made."""

from __future__ import annotations

from payments.models import GatewayCall, GatewayOperation
from tests.fulfillment.support import shipment, shipment_url


def test_pack_ship_deliver_record_the_staff_member(confirmed_order, ful, staff_user):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    created = ful.create(order.number, [("TSHIRT-RED-M", 1)])
    number = created["number"]
    assert ful.post(shipment_url(number, "pack")).status_code == 200
    ful.ship(number)
    ful.deliver(number)

    made = shipment(number)
    assert made.created_by == staff_user
    assert made.packed_by == staff_user
    assert made.shipped_by == staff_user
    assert made.delivered_by == staff_user
    assert made.cancelled_by is None

    moves = {(e.from_status, e.to_status): e.actor_name for e in order.events.all()}
    assert moves[("processing", "shipped")] == staff_user.username
    assert moves[("shipped", "delivered")] == staff_user.username
    capture = GatewayCall.objects.get(
        payment__order=order, operation=GatewayOperation.CAPTURE, ok=True
    )
    assert capture.actor == staff_user


def test_shipping_straight_from_pending_records_the_packer_too(confirmed_order, ful, staff_user):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    shipped = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    made = shipment(shipped["number"])
    assert (made.packed_by, made.shipped_by) == (staff_user, staff_user)


def test_cancel_records_the_staff_member(confirmed_order, ful, staff_user):
    order = confirmed_order([("TSHIRT-RED-M", 2)])
    created = ful.create(order.number, [("TSHIRT-RED-M", 1)])
    response = ful.post(shipment_url(created["number"], "cancel"), {"reason": "wrong box"})
    assert response.status_code == 200, response.json()
    made = shipment(created["number"])
    assert made.status == "cancelled"
    assert made.cancelled_by == staff_user
    assert made.packed_by is None
