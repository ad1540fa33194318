"""Holds in the review console (Django's test client): the queue groups held
orders by reason with counts and a filter, the order page places and releases
holds through the services, and the Hold list filters by reason and state."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders.models import Hold, Order, OrderEvent, OrderStatus
from orders.services.holds import hold_place

pytestmark = pytest.mark.django_db

QUEUE = "admin:orders_order_review_queue"


def url(name: str, order: Order, *args) -> str:
    return reverse(f"admin:orders_order_{name}", args=[order.pk, *args])


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_queue_counts_held_orders_per_reason_and_filters_by_one(client, reviewer, place_held):
    risky = place_held(held_minutes_ago=30)
    checked = place_held(held_minutes_ago=20)
    hold_place(order=checked, reason="address_check", note="PO box", actor=reviewer)
    client.force_login(reviewer)

    response = client.get(reverse(QUEUE))
    counts = {code: n for code, _, n in response.context["reason_counts"]}
    assert counts["high_risk"] == 2 and counts["address_check"] == 1 and counts["manual"] == 0
    html = response.content.decode()
    assert 'data-reason="address_check"' in html and "Address check" in html

    filtered = client.get(reverse(QUEUE), {"reason": "address_check"})
    assert [r.order.number for r in filtered.context["rows"]] == [checked.number]
    assert [h.reason for h in filtered.context["rows"][0].holds] == ["high_risk", "address_check"]
    assert risky.number not in filtered.content.decode().split('id="review-queue"')[-1]
    # An unknown reason is no filter at all, not an error.
    assert len(client.get(reverse(QUEUE), {"reason": "nope"}).context["rows"]) == 2


def test_order_page_places_and_releases_holds_through_the_services(client, reviewer, place_held):
    order = place_held()
    client.force_login(reviewer)
    page = client.get(url("change", order)).content.decode()
    assert 'id="holds-panel"' in page and "High risk" in page and "Place hold" in page

    response = client.post(url("hold_place", order), {"reason": "manual", "note": "call back"})
    assert response.status_code == 302
    assert "Held US-" in " ".join(message_texts(response))
    manual = Hold.objects.get(order=order, reason="manual")
    assert manual.placed_by == reviewer and manual.note == "call back"

    # The same reason twice is refused with a message, not a crash.
    again = client.post(url("hold_place", order), {"reason": "manual"})
    assert any("already has an active manual hold" in m for m in message_texts(again))
    bad = client.post(url("hold_place", order), {"reason": "vibes"})
    assert any("choose one of the hold reasons" in m for m in message_texts(bad))
    assert Hold.objects.filter(order=order).count() == 2

    high_risk = Hold.objects.get(order=order, reason="high_risk")
    client.post(url("hold_release", order, high_risk.pk), {"note": "id checked"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD  # manual is still active
    response = client.post(url("hold_release", order, manual.pk), {"note": "called"})
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert any("is confirmed" in m for m in message_texts(response))
    twice = client.post(url("hold_release", order, manual.pk), {})
    assert any("already released" in m for m in message_texts(twice))
    assert OrderEvent.objects.filter(order=order, reason__startswith="hold released").count() == 2


def test_staff_without_review_permission_cannot_place_or_release(client, ops_user, place_held):
    order = place_held()
    hold = Hold.objects.get(order=order)
    client.force_login(ops_user)
    assert "Place hold" not in client.get(url("change", order)).content.decode()
    assert client.post(url("hold_place", order), {"reason": "manual"}).status_code == 403
    assert client.post(url("hold_release", order, hold.pk), {}).status_code == 403
    assert client.get(url("hold_place", order)).status_code == 405
    assert Hold.objects.filter(order=order).count() == 1
    assert Hold.objects.get(pk=hold.pk).released_at is None


def test_hold_list_filters_by_reason_and_state_and_releases(client, reviewer, place_held):
    first, second = place_held(), place_held()
    hold_place(order=second, reason="awaiting_payment", note="", actor=reviewer)
    client.force_login(reviewer)
    changelist = reverse("admin:orders_hold_changelist")

    by_reason = client.get(changelist, {"reason__exact": "awaiting_payment"})
    assert by_reason.status_code == 200
    assert [h.order_id for h in by_reason.context["cl"].result_list] == [second.pk]
    assert client.get(changelist, {"active": "yes"}).context["cl"].result_count == 3

    high_risk = Hold.objects.filter(reason="high_risk").order_by("pk")
    response = client.post(
        changelist,
        {"action": "release_selected", "_selected_action": [h.pk for h in high_risk]},
    )
    assert response.status_code == 302
    assert client.get(changelist, {"active": "no"}).context["cl"].result_count == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OrderStatus.CONFIRMED  # its only hold is gone: approved
    assert second.status == OrderStatus.ON_HOLD  # still awaiting payment
