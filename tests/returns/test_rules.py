"""What a customer may return, and when: every refusal is 400 VALIDATION_FAILED
with the API.md detail code, and writes nothing; state conflicts are 409."""

from __future__ import annotations

import pytest

from orders.models import Order
from orders.services import order_cancel
from returns.models import ReturnRequest
from tests.orders.support import assert_error, detail_pairs

from .support import delivered_order, open_return, receive, return_url, walk_to_pickup

pytestmark = pytest.mark.django_db


def refused(response, *pairs):
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == list(pairs), error
    assert not ReturnRequest.objects.exists()


class TestWhichOrders:
    def test_not_delivered_yet(self, shop, customer, customer_api):
        order = delivered_order(customer, deliver=False)  # confirmed, nothing shipped
        refused(
            open_return(customer_api, order, [("TSHIRT-RED-M", 1)]),
            ("order", "ORDER_NOT_RETURNABLE"),
        )

    def test_cancelled_order(self, shop, customer, customer_api):
        order = delivered_order(customer, deliver=False)
        order_cancel(order=order, actor=customer, reason="changed my mind")
        refused(
            open_return(customer_api, order, [("TSHIRT-RED-M", 1)]),
            ("order", "ORDER_NOT_RETURNABLE"),
        )

    def test_window_expired(self, shop, customer, customer_api):
        order = delivered_order(customer, days_ago=31)  # US window: 30 days
        refused(
            open_return(customer_api, order, [("TSHIRT-RED-M", 1)]),
            ("order", "RETURN_WINDOW_EXPIRED"),
        )

    def test_last_day_of_the_window_is_fine(self, shop, customer, customer_api):
        order = delivered_order(customer, days_ago=29.9)
        assert open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).status_code == 201

    def test_window_follows_the_market(self, shop, customer, customer_api):
        shop.us.return_window_days = 7
        shop.us.save()
        order = delivered_order(customer, days_ago=8)
        refused(
            open_return(customer_api, order, [("TSHIRT-RED-M", 1)]),
            ("order", "RETURN_WINDOW_EXPIRED"),
        )

    def test_someone_elses_order_is_not_found(self, shop, customer, other_customer_api):
        order = delivered_order(customer)
        refused(
            open_return(other_customer_api, order, [("TSHIRT-RED-M", 1)]),
            ("order", "ORDER_NOT_FOUND"),
        )


class TestWhichItems:
    def test_items_required(self, shop, customer, customer_api):
        order = delivered_order(customer)
        refused(open_return(customer_api, order, []), ("items", "ITEMS_REQUIRED"))
        refused(
            customer_api.post(
                "/api/v1/returns/", {"order": order.number, "reason": "other"}, format="json"
            ),
            ("items", "ITEMS_REQUIRED"),
        )

    def test_more_than_delivered(self, shop, customer, customer_api):
        order = delivered_order(customer, lines=[("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)])
        refused(
            open_return(customer_api, order, [("HOODIE-GREY-M", 1), ("TSHIRT-RED-M", 3)]),
            ("items[1].quantity", "RETURN_QUANTITY_EXCEEDED"),
        )

    def test_open_and_finished_returns_count_rejected_and_cancelled_do_not(
        self, shop, customer, customer_api, staff_api
    ):
        order = delivered_order(customer, lines=[("TSHIRT-RED-M", 3)])
        first = open_return(customer_api, order, [("TSHIRT-RED-M", 2)]).json()["number"]
        response = open_return(customer_api, order, [("TSHIRT-RED-M", 2)])
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [("items[0].quantity", "RETURN_QUANTITY_EXCEEDED")]

        assert customer_api.post(return_url(first, "cancel"), {}, format="json").status_code == 200
        second = open_return(customer_api, order, [("TSHIRT-RED-M", 2)]).json()["number"]
        rejected = staff_api.post(
            return_url(second, "reject"), {"reason": "worn"}, format="json"
        ).json()
        assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", "worn")
        third = open_return(customer_api, order, [("TSHIRT-RED-M", 3)])
        assert third.status_code == 201, third.json()

    def test_units_asked_for_but_not_received_can_be_returned_later(
        self, shop, customer, customer_api, staff_api
    ):
        order = delivered_order(customer, lines=[("TSHIRT-RED-M", 3)])
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 3)]).json()["number"]
        walk_to_pickup(staff_api, number)
        assert receive(staff_api, number, [("TSHIRT-RED-M", 1, "resellable")]).status_code == 200
        again = open_return(customer_api, order, [("TSHIRT-RED-M", 2)])
        assert again.status_code == 201, again.json()

    def test_a_fully_returned_order_has_nothing_left(self, shop, customer, customer_api, staff_api):
        order = delivered_order(customer)
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        walk_to_pickup(staff_api, number)
        receive(staff_api, number, [("TSHIRT-RED-M", 1, "resellable")])
        assert Order.objects.get(pk=order.pk).status == "returned"
        error = assert_error(
            open_return(customer_api, order, [("TSHIRT-RED-M", 1)]), 400, "VALIDATION_FAILED"
        )
        assert detail_pairs(error) == [("items[0].quantity", "RETURN_QUANTITY_EXCEEDED")]

    def test_unknown_and_duplicate_skus(self, shop, customer, customer_api):
        order = delivered_order(customer)
        refused(
            open_return(
                customer_api,
                order,
                [("TSHIRT-RED-M", 1), ("HOODIE-GREY-M", 1), ("TSHIRT-RED-M", 1)],
            ),
            ("items[1].sku", "PRODUCT_NOT_FOUND"),
            ("items[2].sku", "DUPLICATE_ITEM"),
        )

    def test_bad_shapes(self, shop, customer, customer_api):
        order = delivered_order(customer)
        refused(
            open_return(customer_api, order, [("TSHIRT-RED-M", 0)], reason="bored"),
            ("reason", "INVALID_REASON"),
            ("items[0].quantity", "INVALID_QUANTITY"),
        )
        # API.md: quantities are integers, not strings that look like one.
        refused(
            open_return(customer_api, order, [("TSHIRT-RED-M", "1")]),
            ("items[0].quantity", "INVALID_QUANTITY"),
        )


class TestStates:
    def test_customer_cancels_only_while_initiated(self, shop, customer, customer_api, staff_api):
        order = delivered_order(customer)
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        staff_api.post(return_url(number, "approve"), {}, format="json")
        response = customer_api.post(return_url(number, "cancel"), {}, format="json")
        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")
        assert ReturnRequest.objects.get(number=number).status == "approved"

    def test_receive_needs_a_pickup_or_transit(self, shop, customer, customer_api, staff_api):
        order = delivered_order(customer)
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        staff_api.post(return_url(number, "approve"), {}, format="json")
        response = receive(staff_api, number, [("TSHIRT-RED-M", 1, "resellable")])
        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")

    def test_refund_needs_a_receipt(self, shop, customer, customer_api, staff_api):
        order = delivered_order(customer)
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        walk_to_pickup(staff_api, number)
        response = staff_api.post(return_url(number, "refund"), {}, format="json")
        assert_error(response, 409, "TRANSITION_NOT_ALLOWED")

    def test_receipt_is_checked_against_the_return(self, shop, customer, customer_api, staff_api):
        order = delivered_order(customer, lines=[("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)])
        number = open_return(customer_api, order, [("TSHIRT-RED-M", 1)]).json()["number"]
        walk_to_pickup(staff_api, number)
        response = receive(
            staff_api,
            number,
            [
                ("TSHIRT-RED-M", 1, "resellable"),
                ("TSHIRT-RED-M", 1, "damaged"),
                ("HOODIE-GREY-M", 1, "resellable"),
            ],
        )
        error = assert_error(response, 400, "VALIDATION_FAILED")
        assert detail_pairs(error) == [
            ("items[1].quantity", "RETURN_QUANTITY_EXCEEDED"),
            ("items[2].sku", "PRODUCT_NOT_FOUND"),
        ]
        assert ReturnRequest.objects.get(number=number).status == "pickup_scheduled"
        assert Order.objects.get(pk=order.pk).status == "delivered"
