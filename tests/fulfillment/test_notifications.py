"""The customer hears about each shipment (carrier and tracking) and about
delivery, once each, however often the worker runs."""

from __future__ import annotations

from fulfillment.services import shipment_process_shipped
from notifications.models import Notification
from tests.fulfillment.support import shipment


def test_each_shipment_and_the_delivery_notify_once(shop, confirmed_order, ful, notified):
    order = confirmed_order([("TSHIRT-RED-M", 2)])
    one = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)], tracking="T-1")
    two = ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)], tracking="T-2")
    shipment_process_shipped(shipment_id=shipment(one["number"]).pk)  # redelivered: no news

    shipped = [extra for number, event, extra in notified if event == "shipped"]
    assert [(e["shipment"], e["carrier"], e["tracking_number"]) for e in shipped] == [
        (one["number"], "test", "T-1"),
        (two["number"], "test", "T-2"),
    ]
    assert shipped[0]["tracking_url"].endswith("/T-1")
    assert shipped[0]["shipment_items"] == [{"sku": "TSHIRT-RED-M", "quantity": 1}]

    ful.deliver(one["number"])
    ful.deliver(two["number"])
    assert [e for _, e, _ in notified].count("delivered") == 1


def test_real_notifications_are_queued_per_shipment(shop, confirmed_order, ful):
    order = confirmed_order([("TSHIRT-RED-M", 2)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    emails = Notification.objects.filter(
        reference=order.number, template="order_shipped", channel="email"
    )
    assert emails.count() == 2  # not deduplicated into one: one per parcel
