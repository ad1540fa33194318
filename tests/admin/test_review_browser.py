"""The review flow in a real headless Chromium (Playwright, sync API) against
pytest-django's live server: what a reviewer clicks, and what an ops user
without the review permission cannot do."""

import os

# Playwright's sync API keeps an event loop running in this thread; the ORM
# calls the test makes meanwhile are still plain synchronous code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

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
