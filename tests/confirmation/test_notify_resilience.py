"""A notification that cannot be queued never blocks confirmation."""

import notifications.services
from notifications.errors import InvalidNotification
from orders.services.confirming import order_confirm

from .helpers import place_order


def test_confirmation_survives_a_broken_notification(shop, old_customer, monkeypatch, caplog):
    def broken(**kwargs):
        raise InvalidNotification("template", "UNKNOWN_TEMPLATE", "No email template.")

    monkeypatch.setattr(notifications.services, "notification_queue", broken)
    order = place_order(old_customer)

    confirmed = order_confirm(order_id=order.pk)

    assert confirmed.status == "confirmed"
    assert confirmed.events.filter(to_status="confirmed").count() == 1
    assert "could not queue confirmed notification" in caplog.text
