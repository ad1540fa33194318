"""Who sees which order: another customer's order is a plain 404 on every
order endpoint (never a 403 that leaks its existence), review actions are
staff-only, lists hold only one's own orders, and staff see everyone's."""

from __future__ import annotations

import pytest

from orders.models import Order
from tests.factories import StaffFactory, UserFactory
from tests.orders.support import (
    ORDERS_URL,
    assert_error,
    assert_unchanged,
    order_body,
    order_url,
    snapshot,
)


@pytest.fixture
def mine(shop, customer_api, place) -> str:
    response = place(customer_api, order_body("US", [("TSHIRT-RED-M", 1)]))
    assert response.status_code == 201, response.json()
    return response.json()["number"]


@pytest.fixture
def theirs(shop, other_customer_api, place) -> str:
    response = place(other_customer_api, order_body("US", [("HOODIE-GREY-M", 1)]))
    assert response.status_code == 201, response.json()
    return response.json()["number"]


def numbers(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {o["number"] for o in response.json()["results"]}


class TestOtherCustomersOrder:
    def test_detail_is_404(self, mine, theirs, customer_api):
        response = customer_api.get(order_url(theirs))
        error = assert_error(response, 404, "NOT_FOUND")
        assert error["details"] == []
        assert "HOODIE" not in response.content.decode()

    def test_404_looks_like_a_missing_order(self, mine, theirs, customer_api):
        other = customer_api.get(order_url(theirs)).json()
        missing_number = "US-999999"
        missing = customer_api.get(order_url(missing_number)).json()
        assert other["error"]["code"] == missing["error"]["code"]
        assert other["error"]["message"].replace(theirs, "#") == missing["error"][
            "message"
        ].replace(missing_number, "#")

    def test_cancel_is_404_and_changes_nothing(self, mine, theirs, customer_api):
        before = snapshot()
        response = customer_api.post(order_url(theirs, "cancel"), {"reason": "x"}, format="json")
        assert_error(response, 404, "NOT_FOUND")
        assert_unchanged(before)
        assert Order.objects.get(number=theirs).status == "confirmed"

    def test_history_is_404(self, mine, theirs, customer_api):
        assert_error(customer_api.get(order_url(theirs, "history")), 404, "NOT_FOUND")

    @pytest.mark.parametrize("action", ["approve", "reject"])
    def test_review_actions_are_403_for_customers(self, mine, theirs, customer_api, action):
        before = snapshot()
        for number in (mine, theirs):
            response = customer_api.post(
                order_url(number, action), {"note": "ok", "reason": "no"}, format="json"
            )
            assert_error(response, 403, "PERMISSION_DENIED")
        assert_unchanged(before)

    def test_own_order_is_visible(self, mine, customer_api):
        assert customer_api.get(order_url(mine)).status_code == 200
        assert customer_api.get(order_url(mine, "history")).status_code == 200


class TestLists:
    def test_customer_lists_only_their_own(self, mine, theirs, customer_api, other_customer_api):
        assert numbers(customer_api.get(ORDERS_URL)) == {mine}
        assert numbers(other_customer_api.get(ORDERS_URL)) == {theirs}

    def test_customer_filters_cannot_widen_the_list(self, mine, theirs, customer_api):
        response = customer_api.get(ORDERS_URL, {"market": "US", "status": "confirmed"})
        assert numbers(response) == {mine}
        assert response.json()["count"] == 1

    def test_staff_see_all(self, mine, theirs, staff_api):
        assert numbers(staff_api.get(ORDERS_URL)) == {mine, theirs}
        assert staff_api.get(order_url(theirs)).status_code == 200
        assert staff_api.get(order_url(theirs, "history")).status_code == 200

    def test_staff_without_order_permission_see_only_their_own(self, mine, client_for):
        bare_staff = client_for(StaffFactory())
        assert numbers(bare_staff.get(ORDERS_URL)) == set()
        assert_error(bare_staff.get(order_url(mine)), 404, "NOT_FOUND")
        response = bare_staff.post(order_url(mine, "approve"), {}, format="json")
        assert_error(response, 403, "PERMISSION_DENIED")

    def test_new_customer_sees_nothing(self, mine, theirs, client_for):
        assert numbers(client_for(UserFactory()).get(ORDERS_URL)) == set()


class TestAnonymous:
    @pytest.mark.parametrize(
        ("method", "action"),
        [
            ("get", ""),
            ("get", "history"),
            ("post", "cancel"),
            ("post", "approve"),
            ("post", "reject"),
        ],
    )
    def test_every_order_endpoint_needs_credentials(self, mine, api, method, action):
        before = snapshot()
        response = getattr(api, method)(order_url(mine, action), format="json")
        assert_error(response, 401, "AUTHENTICATION_REQUIRED")
        assert_unchanged(before)

    def test_list_and_place_need_credentials(self, shop, api):
        before = snapshot()
        assert_error(api.get(ORDERS_URL), 401, "AUTHENTICATION_REQUIRED")
        assert_error(
            api.post(ORDERS_URL, order_body("US"), format="json"), 401, "AUTHENTICATION_REQUIRED"
        )
        assert_unchanged(before)
