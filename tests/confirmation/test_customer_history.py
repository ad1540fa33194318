"""The audit trail as the customer reads it: a held order says "held for
review", never which fraud rules tripped, and staff-only notes are left out;
staff read everything. The hold email carries no findings either."""

from __future__ import annotations

from django.core import mail

from orders.services.confirming import order_confirm
from orders.services.events import order_note_add
from tests.orders.support import order_url

from .helpers import place_order


def _history(client, number: str) -> list[dict]:
    response = client.get(order_url(number, "history"))
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _held_order(shop, customer):
    shop.product("TV-BIG", us="1500.00", units=3)  # above the US review amount
    order = place_order(customer, [("TV-BIG", 1)], token="tok_riskHigh")
    order = order_confirm(order_id=order.pk)
    assert order.status == "on_hold"
    return order


def test_customer_reads_held_for_review_and_staff_read_the_findings(
    shop, old_customer, client_for, staff_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = _held_order(shop, old_customer)
    customer_api = client_for(old_customer)

    held = [e for e in _history(customer_api, order.number) if e["to_status"] == "on_hold"]
    assert [e["reason"] for e in held] == ["held for review"]

    staff_reason = next(
        e["reason"] for e in _history(staff_api, order.number) if e["to_status"] == "on_hold"
    )
    assert staff_reason.startswith("held for review: ")
    assert "review amount" in staff_reason and "risky" in staff_reason

    (email,) = [m for m in mail.outbox if order.number in m.subject]
    assert "review amount" not in email.body and "risky" not in email.body


def test_staff_notes_are_not_in_the_customers_history(shop, old_customer, client_for, staff_api):
    order = _held_order(shop, old_customer)
    order_note_add(order=order, actor=None, note="called the bank: card reported stolen")
    customer_api = client_for(old_customer)

    assert not any("stolen" in e["reason"] for e in _history(customer_api, order.number))
    assert any("stolen" in e["reason"] for e in _history(staff_api, order.number))
