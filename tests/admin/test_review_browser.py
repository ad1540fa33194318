"""The review flow in a real headless Chromium (Playwright, sync API) against
pytest-django's live server: what a reviewer clicks, and what an ops user
without the review permission cannot do."""

import os

# Playwright's sync API keeps an event loop running in this thread; the ORM
# calls the test makes meanwhile are still plain synchronous code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from orders.models import OrderStatus

from .conftest import PASSWORD, stock_level

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
QUEUE_PATH = "/admin/orders/order/review-queue/"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def logged_in_page(browser, live_server, user):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next={QUEUE_PATH}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{QUEUE_PATH}")
    return page


def test_reviewer_claims_approves_and_rejects_in_the_browser(
    browser, live_server, reviewer, place_held, shop
):
    to_approve = place_held(quantity=1, held_minutes_ago=30)
    to_reject = place_held(quantity=2, held_minutes_ago=10)
    page = logged_in_page(browser, live_server, reviewer)

    rows = page.locator("#review-queue tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.order)") == [
        to_approve.number,
        to_reject.number,
    ]

    page.locator(f"#order-{to_reject.number} button", has_text="Claim").click()
    page.wait_for_url(f"**{QUEUE_PATH}")
    assert "claimed by you" in page.locator(f"#order-{to_reject.number}").inner_text()

    page.locator(f"#order-{to_approve.number} a.approve").click()
    page.fill("textarea[name=note]", "spoke to the customer")
    page.click("input[name=confirm]")
    page.wait_for_url(f"**{QUEUE_PATH}")
    assert f"Approved: {to_approve.number}." in page.locator(".messagelist").inner_text()
    assert page.locator(f"#order-{to_approve.number}").count() == 0

    page.locator(f"#order-{to_reject.number} a.reject").click()
    page.fill("textarea[name=reason]", "address on a fraud list")
    page.click("input[name=confirm]")
    page.wait_for_url(f"**{QUEUE_PATH}")
    assert f"Rejected: {to_reject.number}." in page.locator(".messagelist").inner_text()
    assert "Nothing is waiting for review." in page.content()

    to_approve.refresh_from_db()
    to_reject.refresh_from_db()
    assert to_approve.status == OrderStatus.CONFIRMED
    approval = to_approve.events.last()
    assert (approval.actor_name, approval.reason) == ("rita", "spoke to the customer")
    assert to_reject.status == OrderStatus.CANCELLED
    assert to_reject.reviewer == reviewer
    assert to_reject.events.last().reason == "address on a fraud list"
    assert stock_level(shop).reserved == 1  # only the approved order's unit stays reserved


def test_staff_without_review_permission_cannot_approve_in_the_browser(
    browser, live_server, ops_user, place_held
):
    order = place_held()
    page = logged_in_page(browser, live_server, ops_user)

    assert page.locator(f"#order-{order.number}").count() == 1  # sees the queue
    assert page.locator("a.approve, a.reject").count() == 0
    page.locator(f"#order-{order.number} a", has_text=order.number).click()
    assert "need the review permission" in page.locator("#review-panel").inner_text()
    assert page.locator("a.approve").count() == 0

    approve_url = f"{live_server.url}/admin/orders/order/{order.pk}/approve/"
    assert page.goto(approve_url).status == 403
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forced = page.request.post(
        approve_url,
        form={"csrfmiddlewaretoken": csrf, "note": "forced"},
        headers={"Referer": approve_url},
    )
    assert forced.status == 403
    assert "PERMISSION_DENIED" in forced.text()  # our refusal, not a CSRF failure

    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert not order.events.filter(reason="forced").exists()


def test_reviewer_groups_the_queue_by_reason_and_releases_holds_in_the_browser(
    browser, live_server, reviewer, place_held
):
    from orders.services.holds import hold_place

    risky = place_held(held_minutes_ago=30)
    checked = place_held(held_minutes_ago=10)
    hold_place(order=checked, reason="address_check", note="PO box", actor=reviewer)
    page = logged_in_page(browser, live_server, reviewer)

    reasons = page.locator("#hold-reasons")
    assert reasons.locator('[data-reason="high_risk"] .count').inner_text() == "2"
    assert reasons.locator('[data-reason="address_check"] .count').inner_text() == "1"
    reasons.locator('[data-reason="address_check"] a').click()
    page.wait_for_url("**reason=address_check")
    rows = page.locator("#review-queue tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.order)") == [checked.number]
    assert "Address check" in page.locator(f"#order-{checked.number} td.holds").inner_text()

    page.locator(f"#order-{checked.number} a", has_text=checked.number).click()
    panel = page.locator("#holds-panel")
    panel.locator("select[name=reason]").select_option("manual")
    panel.locator("form.place-hold input[name=note]").fill("call the customer")
    panel.locator("button.place-hold").click()
    assert "Held " in page.locator(".messagelist").inner_text()
    expect(page.locator('#holds-panel tr.active[data-reason="manual"]')).to_have_count(1)

    for reason in ("high_risk", "address_check", "manual"):
        row = page.locator(f'#holds-panel tr.active[data-reason="{reason}"]')
        row.locator("input[name=note]").fill(f"{reason} cleared")
        row.locator("button.release-hold").click()
        expect(page.locator(f'#holds-panel tr.released[data-reason="{reason}"]')).to_have_count(1)

    checked.refresh_from_db()
    risky.refresh_from_db()
    assert checked.status == OrderStatus.CONFIRMED
    assert risky.status == OrderStatus.ON_HOLD
    page.goto(f"{live_server.url}{QUEUE_PATH}")
    assert page.locator("#hold-reasons [data-reason='address_check'] .count").inner_text() == "0"
    assert page.locator("#review-queue tbody tr").count() == 1
