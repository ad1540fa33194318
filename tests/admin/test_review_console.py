"""The review console through Django's test client: queue, claim, approve,
reject, bulk actions and the review permission."""

import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from inventory.models import Reservation
from orders.models import Order, OrderEvent, OrderStatus
from orders.services import order_cancel

from .conftest import stock_level

pytestmark = pytest.mark.django_db

QUEUE = "admin:orders_order_review_queue"


def url(name: str, order: Order) -> str:
    return reverse(f"admin:orders_order_{name}", args=[order.pk])


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_migration_creates_the_reviewer_group():
    group = Group.objects.get(name="Reviewer")
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert codenames == {"review_order", "view_order", "change_order"}


def test_queue_lists_held_orders_oldest_first_and_flags_the_sla(
    client, reviewer, place_held, settings
):
    settings.REVIEW_SLA_MINUTES = 120
    recent = place_held(held_minutes_ago=5)
    oldest = place_held(held_minutes_ago=300)
    middle = place_held(held_minutes_ago=60)
    client.force_login(reviewer)

    response = client.get(reverse(QUEUE))

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r.order.number for r in rows] == [oldest.number, middle.number, recent.number]
    assert [r.overdue for r in rows] == [True, False, False]
    html = response.content.decode()
    assert html.index(oldest.number) < html.index(middle.number) < html.index(recent.number)
    overdue_rows = re.findall(r'<tr id="order-([\w-]+)"[^>]*class="overdue', html)
    assert overdue_rows == [oldest.number]
    assert "5 h 00 min" in html and "past SLA" in html
    assert "Total 49.19 USD is above the review amount 10.00." in html


def test_queue_shows_customer_history_and_leaves_out_other_orders(client, reviewer, place_held):
    earlier = place_held()
    order_cancel(order=earlier, actor=reviewer, reason="customer asked")
    held = place_held(customer=earlier.customer)
    client.force_login(reviewer)

    rows = client.get(reverse(QUEUE)).context["rows"]

    assert [r.order.number for r in rows] == [held.number]
    assert rows[0].history.startswith(
        "1 earlier order · 0 delivered · 1 cancelled · account 0 days"
    )


def test_approve_confirms_and_records_reviewer_and_note(client, reviewer, place_held):
    order = place_held()
    client.force_login(reviewer)

    form = client.get(url("approve", order))
    assert form.status_code == 200 and 'name="note"' in form.content.decode()
    response = client.post(url("approve", order), {"note": "called the customer, all fine"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    event = order.events.last()
    assert (event.from_status, event.to_status) == ("on_hold", "confirmed")
    assert (event.actor, event.actor_name) == (reviewer, "rita")
    assert event.reason == "called the customer, all fine"
    assert set(
        Reservation.objects.filter(order_line__order=order).values_list("status", flat=True)
    ) == {"committed"}
    assert f"Approved: {order.number}." in message_texts(response)


def test_reject_cancels_and_releases_stock(client, reviewer, place_held, shop):
    order = place_held(quantity=3)
    assert stock_level(shop).reserved == 3
    client.force_login(reviewer)

    response = client.post(url("reject", order), {"reason": "stolen card suspected"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "rejected in review: stolen card suspected"
    level = stock_level(shop)
    assert (level.on_hand, level.reserved) == (20, 0)
    event = order.events.last()
    assert (event.to_status, event.actor_name, event.reason) == (
        "cancelled",
        "rita",
        "stolen card suspected",
    )


def test_reject_needs_a_reason(client, reviewer, place_held):
    order = place_held()
    client.force_login(reviewer)

    response = client.post(url("reject", order), {"reason": "   "})

    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD


def test_staff_without_review_permission_is_refused(client, ops_user, place_held):
    order = place_held()
    events_before = order.events.count()
    client.force_login(ops_user)

    queue = client.get(reverse(QUEUE))
    page = client.get(url("change", order))
    approve = client.post(url("approve", order), {"note": "sneaky"})
    reject = client.post(url("reject", order), {"reason": "sneaky"})
    claim = client.post(url("claim", order))
    bulk = client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "approve_selected", "_selected_action": [order.pk], "apply": "yes"},
    )

    assert queue.status_code == 200 and order.number in queue.content.decode()
    assert "Approve</a>" not in queue.content.decode()
    assert page.status_code == 200 and "Approve</a>" not in page.content.decode()
    assert "need the review permission" in page.content.decode()
    assert (approve.status_code, reject.status_code, claim.status_code) == (403, 403, 403)
    assert bulk.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and order.reviewer is None
    assert order.events.count() == events_before


def test_claim_sets_reviewer_and_others_see_it(client, reviewer, other_reviewer, place_held):
    order = place_held()
    client.force_login(reviewer)

    response = client.post(url("claim", order), {"next": reverse(QUEUE)})

    assert response.status_code == 302 and response["Location"] == reverse(QUEUE)
    order.refresh_from_db()
    assert order.reviewer == reviewer and order.claimed_at is not None
    assert "claimed by you" in client.get(reverse(QUEUE)).content.decode()

    client.force_login(other_reviewer)
    assert "claimed by rita" in client.get(reverse(QUEUE)).content.decode()
    assert "This order is claimed by rita." in client.get(url("change", order)).content.decode()


def test_claim_is_post_only(client, reviewer, place_held):
    order = place_held()
    client.force_login(reviewer)
    assert client.get(url("claim", order)).status_code == 405


def test_domain_errors_become_admin_messages(client, reviewer, place_held):
    order = place_held()
    client.force_login(reviewer)
    client.post(url("approve", order), {"note": ""})

    response = client.post(url("approve", order), {"note": "again"})

    assert response.status_code == 302
    assert any("only held orders can be approved" in m for m in message_texts(response))


def test_bulk_approve_asks_for_a_note_then_approves(client, reviewer, place_held):
    first, second = place_held(), place_held()
    client.force_login(reviewer)
    changelist = reverse("admin:orders_order_changelist")
    selected = {"action": "approve_selected", "_selected_action": [first.pk, second.pk]}

    ask = client.post(changelist, selected)
    assert ask.status_code == 200 and 'name="note"' in ask.content.decode()
    assert Order.objects.filter(status=OrderStatus.ON_HOLD).count() == 2

    done = client.post(changelist, {**selected, "apply": "yes", "note": "batch ok"})

    assert done.status_code == 302
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == OrderStatus.CONFIRMED
        assert order.events.last().reason == "batch ok"


def test_bulk_reject_needs_a_reason_and_reports_orders_it_cannot_reject(
    client, reviewer, place_held
):
    held, approved = place_held(), place_held()
    client.force_login(reviewer)
    client.post(url("approve", approved), {"note": ""})
    changelist = reverse("admin:orders_order_changelist")
    selected = {"action": "reject_selected", "_selected_action": [held.pk, approved.pk]}

    missing = client.post(changelist, {**selected, "apply": "yes", "reason": ""})
    assert missing.status_code == 200 and missing.context["form"].errors
    done = client.post(changelist, {**selected, "apply": "yes", "reason": "fraud ring"})

    held.refresh_from_db()
    approved.refresh_from_db()
    assert (held.status, approved.status) == (OrderStatus.CANCELLED, OrderStatus.CONFIRMED)
    texts = message_texts(done)
    assert f"Rejected: {held.number}." in texts
    assert any(approved.number in t and "only held orders" in t for t in texts)


def test_cancel_order_asks_for_a_reason(client, ops_user, place_held, shop):
    order = place_held(quantity=2)
    client.force_login(ops_user)

    response = client.post(url("cancel", order), {"reason": "duplicate order"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "duplicate order")
    assert stock_level(shop).reserved == 0
    assert OrderEvent.objects.filter(order=order, actor=ops_user, to_status="cancelled").exists()


def test_order_page_shows_lines_payment_risk_and_history(client, reviewer, place_held):
    order = place_held(quantity=2)
    client.force_login(reviewer)

    response = client.get(url("change", order))

    html = response.content.decode()
    assert response.status_code == 200
    assert "LAMP-1" in html and "80.00" in html  # the line
    assert "<th>gateway</th><td>test</td>" in html and "authorized" in html  # the payment
    assert '<ul class="risk-reasons">' in html and "(always holds)" in html
    assert "History and notes" in html and "held for review" in html
    assert "0 earlier orders" in html
    assert 'name="_save"' not in html  # view-only: states change through the buttons
    assert client.post(url("change", order), {"status": "confirmed"}).status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD


def test_changelist_searches_by_sku_and_links_the_queue(client, reviewer, place_held):
    order = place_held()
    client.force_login(reviewer)

    response = client.get(reverse("admin:orders_order_changelist"), {"q": "LAMP-1"})

    html = response.content.decode()
    assert order.number in html and "49.19 USD" in html
    assert "Review queue (1 held)" in html


def test_a_note_goes_into_the_order_history_without_changing_its_status(
    client, ops_user, place_held
):
    order = place_held(quantity=1)
    client.force_login(ops_user)
    assert "Add note" in client.get(url("change", order)).content.decode()

    empty = client.post(url("note", order), {"note": "   "})
    assert empty.status_code == 200 and empty.context["form"].errors
    response = client.post(url("note", order), {"note": "Called the customer: address confirmed."})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    note = OrderEvent.objects.filter(order=order, actor=ops_user).get()
    assert (note.from_status, note.to_status) == ("on_hold", "on_hold")
    assert note.reason == "Called the customer: address confirmed."
    history = client.get(url("change", order)).content.decode()
    assert "address confirmed" in history
