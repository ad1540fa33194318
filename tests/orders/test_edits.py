"""Order edits, staged then committed, through the API."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core import mail

from inventory.models import Reservation, ReservationStatus
from notifications.models import Notification
from orders.models import Order, OrderEdit, OrderEvent
from payments.gateways import GatewayError
from payments.gateways.test_gateway import TestGateway
from payments.models import Payment
from payments.services import payment_authorization_raise
from tests.orders.support import (
    US_ADDRESS,
    assert_error,
    assert_ledger_agrees,
    assert_unchanged,
    detail_pairs,
    level_of,
    order_body,
    order_url,
    snapshot,
)

pytestmark = pytest.mark.django_db

NEW_ADDRESS = {**US_ADDRESS, "line1": "9 Elm St", "city": "Chicago", "postal_code": "60601"}


def edits_url(number: str, edit_id: int | None = None, action: str = "") -> str:
    url = order_url(number, "edits")
    if edit_id is not None:
        url += f"{edit_id}/"
    return url + (f"{action}/" if action else "")


@pytest.fixture
def placed(shop, customer_api, place):
    """A confirmed US order: 2 T-shirts and 1 hoodie, card authorized."""
    response = place(customer_api, order_body("US", (("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1))))
    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    assert order.status == "confirmed"
    return order


@pytest.fixture
def pending(shop, customer_api, place):
    """A pending US order (confirmation not run yet): 1 T-shirt, payment pending."""
    response = place(customer_api, order_body("US", (("TSHIRT-RED-M", 1),)), confirm=False)
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


def begin(client, order) -> dict:
    response = client.post(edits_url(order.number), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def set_line(client, order, edit_id, sku, quantity):
    return client.post(
        edits_url(order.number, edit_id, "lines"), {"sku": sku, "quantity": quantity}, format="json"
    )


def commit(client, order, edit_id):
    return client.post(edits_url(order.number, edit_id, "commit"), format="json")


def reserved_units(order) -> dict[str, int]:
    units: dict[str, int] = {}
    for r in Reservation.objects.filter(
        order_line__order=order,
        status__in=[ReservationStatus.ACTIVE, ReservationStatus.COMMITTED],
    ).select_related("order_line"):
        units[r.order_line.sku] = units.get(r.order_line.sku, 0) + r.quantity
    return units


# --- happy paths ---------------------------------------------------------------------


def test_begin_shows_the_order_as_it_is(placed, customer_api):
    edit = begin(customer_api, placed)
    assert edit["status"] == "open"
    assert edit["order"] == placed.number
    assert {(line["sku"], line["quantity"]) for line in edit["lines"]} == {
        ("TSHIRT-RED-M", 2),
        ("HOODIE-GREY-M", 1),
    }
    assert edit["total"] == str(placed.total)
    assert edit["currency"] == "USD"
    fetched = customer_api.get(edits_url(placed.number, edit["id"]))
    assert fetched.status_code == 200
    assert fetched.json() == edit


def test_lower_quantity_and_remove_line_preview_equals_commit(shop, placed, customer_api):
    edit = begin(customer_api, placed)
    assert set_line(customer_api, placed, edit["id"], "TSHIRT-RED-M", 1).status_code == 200
    response = set_line(customer_api, placed, edit["id"], "HOODIE-GREY-M", 0)
    assert response.status_code == 200, response.content
    preview = response.json()
    # 1 × 19.99, under the 50.00 free-shipping line: 5.99 shipping, 8% tax on 19.99.
    assert preview["subtotal"] == "19.99"
    assert preview["shipping"] == "5.99"
    assert preview["tax"] == "1.60"
    assert preview["total"] == "27.58"
    hoodie_before = level_of(shop.hoodie, shop.us_wh).reserved
    tshirt_before = level_of(shop.tshirt, shop.us_wh).reserved

    response = commit(customer_api, placed, edit["id"])
    assert response.status_code == 200, response.content
    order = response.json()
    assert [(i["sku"], i["quantity"]) for i in order["items"]] == [("TSHIRT-RED-M", 1)]
    for name in ("subtotal", "discount", "shipping", "tax", "total"):
        assert order[name] == preview[name], name
    assert level_of(shop.hoodie, shop.us_wh).reserved == hoodie_before - 1
    assert level_of(shop.tshirt, shop.us_wh).reserved == tshirt_before - 1
    placed.refresh_from_db()
    assert reserved_units(placed) == {"TSHIRT-RED-M": 1}
    # Confirmed: the new reservation does not expire.
    assert not Reservation.objects.filter(
        order_line__order=placed, status=ReservationStatus.ACTIVE
    ).exists()
    payment = Payment.objects.get(order=placed)
    assert payment.amount == Decimal("27.58")  # what will be captured
    assert payment.amount_authorized > payment.amount
    assert_ledger_agrees()
    assert OrderEdit.objects.get(pk=edit["id"]).status == "committed"


def test_commit_writes_one_audit_row_with_the_diff(placed, customer_api):
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "TSHIRT-RED-M", 1)
    customer_api.post(
        edits_url(placed.number, edit["id"], "address"),
        {"shipping_address": NEW_ADDRESS},
        format="json",
    )
    events_before = OrderEvent.objects.filter(order=placed).count()
    assert commit(customer_api, placed, edit["id"]).status_code == 200
    events = OrderEvent.objects.filter(order=placed).order_by("-id")
    assert events.count() == events_before + 1
    event = events.first()
    assert event.from_status == event.to_status == "confirmed"
    diff = json.loads(event.reason.removeprefix("order edited: "))
    assert diff["lines_before"] == {"TSHIRT-RED-M": 2, "HOODIE-GREY-M": 1}
    assert diff["lines_after"] == {"TSHIRT-RED-M": 1, "HOODIE-GREY-M": 1}
    assert diff["address_changed"] is True
    assert diff["totals_before"]["total"] == str(placed.total)
    placed.refresh_from_db()
    assert diff["totals_after"]["total"] == str(placed.total)
    assert placed.shipping_address["line1"] == "9 Elm St"
    history = customer_api.get(order_url(placed.number, "history")).json()["results"]
    assert history[-1]["reason"] == "order edited"


def test_add_a_line_to_a_pending_order_reserves_and_raises_the_payment(shop, pending, customer_api):
    socks = shop.product("SOCKS-BLUE", us="5.00", units=10)
    edit = begin(customer_api, pending)
    response = set_line(customer_api, pending, edit["id"], "SOCKS-BLUE", 3)
    assert response.status_code == 200, response.content
    preview = response.json()
    socks_line = next(line for line in preview["lines"] if line["sku"] == "SOCKS-BLUE")
    assert socks_line["unit_price"] == "5.00" and socks_line["line_total"] == "15.00"
    # 19.99 + 15.00 = 34.99; shipping 5.99; tax 8% of 34.99 = 2.80
    assert preview["total"] == "43.78"
    response = commit(customer_api, pending, edit["id"])
    assert response.status_code == 200, response.content
    assert response.json()["total"] == "43.78"
    assert level_of(socks, shop.us_wh).reserved == 3
    payment = Payment.objects.get(order=pending)
    assert payment.status == "pending" and payment.amount == Decimal("43.78")
    # Still pending: the new reservation expires like the others.
    assert Reservation.objects.filter(
        order_line__order=pending, order_line__sku="SOCKS-BLUE", expires_at__isnull=False
    ).exists()
    assert_ledger_agrees()


@pytest.fixture
def gateway():
    TestGateway.reset()
    yield TestGateway
    TestGateway.reset()


def test_raising_an_authorized_total_raises_the_hold_at_the_gateway(placed, customer_api, gateway):
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "HOODIE-GREY-M", 3)

    response = commit(customer_api, placed, edit["id"])

    assert response.status_code == 200, response.json()
    total = Decimal(response.json()["total"])
    assert total > placed.total
    payment = Payment.objects.get(order=placed)
    assert (payment.status, payment.amount, payment.amount_authorized) == (
        "authorized",
        total,
        total,
    )
    [call] = gateway.calls_for("increment_authorization")
    assert call.kwargs["amount"] == total and call.kwargs["reference"] == payment.reference
    logged = payment.gateway_calls.get(operation="increment")
    assert (logged.ok, logged.amount) == (True, total)


def test_a_declined_increase_leaves_the_order_and_its_hold_as_they_were(
    placed, customer_api, gateway
):
    payment = Payment.objects.get(order=placed)
    gateway.declining_increments.add(payment.reference)
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "HOODIE-GREY-M", 3)
    before = snapshot()

    error = assert_error(commit(customer_api, placed, edit["id"]), 409, "TRANSITION_NOT_ALLOWED")

    assert detail_pairs(error) == [("payment", "REAUTHORIZATION_NOT_SUPPORTED")]
    after = snapshot()
    assert after["levels"] == before["levels"]
    assert {k: v for k, v in after["counts"].items() if v != before["counts"][k]} == {
        "payments.GatewayCall": before["counts"]["payments.GatewayCall"] + 1  # the declined try
    }
    placed_after = Order.objects.get(pk=placed.pk)
    assert (placed_after.total, placed_after.updated_at) == (placed.total, placed.updated_at)
    payment.refresh_from_db()
    assert (payment.amount, payment.amount_authorized) == (placed.total, placed.total)
    # The edit stays open: lowered to fit the hold, it commits.
    set_line(customer_api, placed, edit["id"], "HOODIE-GREY-M", 1)
    set_line(customer_api, placed, edit["id"], "TSHIRT-RED-M", 1)
    assert commit(customer_api, placed, edit["id"]).status_code == 200


def test_a_gateway_that_cannot_raise_a_hold_refuses_before_anything_is_written(
    placed, customer_api, gateway, monkeypatch
):
    monkeypatch.setattr(TestGateway, "supports_incremental_authorization", False)
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "HOODIE-GREY-M", 3)
    before = snapshot()
    error = assert_error(commit(customer_api, placed, edit["id"]), 409, "TRANSITION_NOT_ALLOWED")
    assert detail_pairs(error) == [("payment", "REAUTHORIZATION_NOT_SUPPORTED")]
    assert_unchanged(before)
    assert gateway.calls_for("increment_authorization") == []


def test_a_gateway_that_does_not_answer_is_a_503_and_the_retry_completes(
    placed, customer_api, gateway, monkeypatch
):
    answer = TestGateway.increment_authorization
    silent = {"left": 1}

    def times_out_once(self, **kwargs):
        if silent["left"]:
            silent["left"] -= 1
            raise GatewayError("test gateway: simulated timeout")
        return answer(self, **kwargs)

    monkeypatch.setattr(TestGateway, "increment_authorization", times_out_once)
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "HOODIE-GREY-M", 3)

    assert_error(commit(customer_api, placed, edit["id"]), 503, "SERVICE_UNAVAILABLE")
    unchanged = Order.objects.get(pk=placed.pk)
    assert (unchanged.total, unchanged.updated_at) == (placed.total, placed.updated_at)
    call = Payment.objects.get(order=placed).gateway_calls.get(operation="increment")
    assert call.completed_at is None and "simulated timeout" in call.error

    response = commit(customer_api, placed, edit["id"])  # the customer tries again
    assert response.status_code == 200, response.json()
    call.refresh_from_db()
    assert (call.ok, call.attempts) == (True, 2)  # the same call row, asked once more


def test_raising_again_with_the_same_key_asks_the_gateway_once(placed, gateway):
    payment = Payment.objects.get(order=placed)
    new_total = placed.total + Decimal("10.00")
    for _ in range(2):
        payment = payment_authorization_raise(
            payment_id=payment.pk, amount=new_total, idempotency_key="edit-7", actor=None
        )
    assert payment.amount_authorized == new_total
    assert len(gateway.calls_for("increment_authorization")) == 1


def test_discard(placed, customer_api):
    edit = begin(customer_api, placed)
    response = customer_api.post(edits_url(placed.number, edit["id"], "discard"), format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "discarded"
    error = assert_error(commit(customer_api, placed, edit["id"]), 409, "TRANSITION_NOT_ALLOWED")
    assert detail_pairs(error) == [(None, "EDIT_CLOSED")]
    begin(customer_api, placed)  # a new one may start


def test_staff_edits_a_processing_order_customer_may_not(
    shop, placed, customer_api, staff_api, client_for
):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffFactory

    # processing without a shipment: moved there by hand for this test
    Order.objects.filter(pk=placed.pk).update(status="processing")
    placed.refresh_from_db()
    error = assert_error(
        customer_api.post(edits_url(placed.number), format="json"), 409, "TRANSITION_NOT_ALLOWED"
    )
    assert detail_pairs(error) == [(None, "ORDER_NOT_EDITABLE")]
    edit = begin(staff_api, placed)
    assert set_line(staff_api, placed, edit["id"], "TSHIRT-RED-M", 1).status_code == 200
    assert commit(staff_api, placed, edit["id"]).status_code == 200
    # Staff who may only view orders: 403.
    viewer = StaffFactory()
    viewer.user_permissions.set(Permission.objects.filter(codename="view_order"))
    assert_error(
        client_for(viewer).post(edits_url(placed.number), format="json"), 403, "PERMISSION_DENIED"
    )


# --- refusals --------------------------------------------------------------------------


def test_second_begin_is_409(placed, customer_api):
    begin(customer_api, placed)
    error = assert_error(
        customer_api.post(edits_url(placed.number), format="json"), 409, "TRANSITION_NOT_ALLOWED"
    )
    assert detail_pairs(error) == [(None, "EDIT_IN_PROGRESS")]


def test_someone_elses_order_is_404(placed, other_customer_api, customer_api):
    assert_error(other_customer_api.post(edits_url(placed.number), format="json"), 404, "NOT_FOUND")
    edit = begin(customer_api, placed)
    for action in ("", "lines", "address", "commit", "discard"):
        url = edits_url(placed.number, edit["id"], action)
        response = other_customer_api.get(url) if not action else other_customer_api.post(url)
        assert_error(response, 404, "NOT_FOUND")
    assert_error(customer_api.get(edits_url(placed.number, 999999)), 404, "NOT_FOUND")


def test_anonymous_is_401(placed, api):
    assert_error(api.post(edits_url(placed.number), format="json"), 401, "AUTHENTICATION_REQUIRED")


@pytest.mark.parametrize(
    "body, code",
    [
        ({"sku": "TSHIRT-RED-M", "quantity": -1}, "INVALID_QUANTITY"),
        ({"sku": "TSHIRT-RED-M", "quantity": "2"}, "INVALID_QUANTITY"),
        ({"sku": "TSHIRT-RED-M", "quantity": 2.0}, "INVALID_QUANTITY"),
        ({"sku": "TSHIRT-RED-M", "quantity": True}, "INVALID_QUANTITY"),
        ({"sku": "TSHIRT-RED-M"}, "INVALID_QUANTITY"),
        ({"sku": "TSHIRT-RED-M", "quantity": 101}, "QUANTITY_LIMIT"),
        ({"sku": "NOPE", "quantity": 1}, "PRODUCT_NOT_FOUND"),
        ({"quantity": 1}, "PRODUCT_NOT_FOUND"),
        ({"sku": "NOPE", "quantity": 0}, "PRODUCT_NOT_FOUND"),
    ],
)
def test_bad_line_input(placed, customer_api, body, code):
    edit = begin(customer_api, placed)
    before = snapshot()
    response = customer_api.post(edits_url(placed.number, edit["id"], "lines"), body, format="json")
    error = assert_error(response, 400, "VALIDATION_FAILED")
    assert code in [c for _, c in detail_pairs(error)], error
    assert_unchanged(before)


def test_non_object_body_is_400(placed, customer_api):
    edit = begin(customer_api, placed)
    response = customer_api.post(
        edits_url(placed.number, edit["id"], "lines"), [1, 2], format="json"
    )
    assert_error(response, 400, "VALIDATION_FAILED")


def test_unavailable_product_and_last_line(shop, pending, customer_api):
    shop.product("OLD-HAT", us="9.00", units=5)
    from inventory.models import Product

    Product.objects.filter(sku="OLD-HAT").update(active=False)
    shop.product("RUPEE-ONLY", inr="100.00", units=5)
    edit = begin(customer_api, pending)
    for sku in ("OLD-HAT", "RUPEE-ONLY"):
        error = assert_error(
            set_line(customer_api, pending, edit["id"], sku, 1), 400, "VALIDATION_FAILED"
        )
        assert detail_pairs(error) == [("sku", "PRODUCT_UNAVAILABLE")]
    error = assert_error(
        set_line(customer_api, pending, edit["id"], "TSHIRT-RED-M", 0), 400, "VALIDATION_FAILED"
    )
    assert detail_pairs(error) == [("sku", "ITEMS_REQUIRED")]


def test_bad_address(placed, customer_api):
    edit = begin(customer_api, placed)
    url = edits_url(placed.number, edit["id"], "address")
    error = assert_error(
        customer_api.post(url, {"shipping_address": {"name": "X"}}, format="json"),
        400,
        "VALIDATION_FAILED",
    )
    assert {c for _, c in detail_pairs(error)} == {"ADDRESS_INCOMPLETE"}
    error = assert_error(
        customer_api.post(url, {"shipping_address": {**NEW_ADDRESS, "phone": "12"}}, format="json"),
        400,
        "VALIDATION_FAILED",
    )
    assert ("shipping_address.phone", "INVALID_PHONE") in detail_pairs(error)
    assert OrderEdit.objects.get(pk=edit["id"]).shipping_address == placed.shipping_address


def test_insufficient_stock_is_400_and_nothing_changes(shop, pending, customer_api):
    shop.product("RARE-PIN", us="1.00", units=2)
    edit = begin(customer_api, pending)
    set_line(customer_api, pending, edit["id"], "RARE-PIN", 3)
    before = snapshot()
    error = assert_error(commit(customer_api, pending, edit["id"]), 400, "VALIDATION_FAILED")
    assert [c for _, c in detail_pairs(error)] == ["INSUFFICIENT_STOCK"]
    assert_unchanged(before)
    assert OrderEdit.objects.get(pk=edit["id"]).status == "open"


def test_order_changed_since_begin_is_stale(placed, customer_api):
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "TSHIRT-RED-M", 1)
    Order.objects.get(pk=placed.pk).save()  # any other write to the order
    before = snapshot()
    error = assert_error(commit(customer_api, placed, edit["id"]), 409, "TRANSITION_NOT_ALLOWED")
    assert detail_pairs(error) == [(None, "EDIT_STALE")]
    assert_unchanged(before)


def test_shipment_created_meanwhile_refuses_the_commit(placed, customer_api, staff_api):
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "TSHIRT-RED-M", 1)
    response = staff_api.post(
        order_url(placed.number, "shipments"),
        {"items": [{"sku": "HOODIE-GREY-M", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    before = snapshot()
    error = assert_error(commit(customer_api, placed, edit["id"]), 409, "TRANSITION_NOT_ALLOWED")
    assert detail_pairs(error) == [(None, "ORDER_NOT_EDITABLE")]
    assert_unchanged(before)
    # and no new edit can start
    error = assert_error(
        customer_api.post(edits_url(placed.number), format="json"), 409, "TRANSITION_NOT_ALLOWED"
    )
    assert detail_pairs(error) == [(None, "ORDER_NOT_EDITABLE")]


def test_cancelled_order_is_not_editable(placed, customer_api):
    customer_api.post(order_url(placed.number, "cancel"), {"reason": "x"}, format="json")
    error = assert_error(
        customer_api.post(edits_url(placed.number), format="json"), 409, "TRANSITION_NOT_ALLOWED"
    )
    assert detail_pairs(error) == [(None, "ORDER_NOT_EDITABLE")]


def test_authorization_in_flight_refuses_the_commit(pending, customer_api):
    from payments.models import GatewayCall

    payment = Payment.objects.get(order=pending)
    edit = begin(customer_api, pending)
    set_line(customer_api, pending, edit["id"], "TSHIRT-RED-M", 2)
    GatewayCall.objects.create(
        payment=payment,
        gateway=payment.gateway,
        operation="authorize",
        idempotency_key=f"{payment.uid}:authorize",
        amount=payment.amount,
    )
    before = snapshot()
    error = assert_error(commit(customer_api, pending, edit["id"]), 409, "TRANSITION_NOT_ALLOWED")
    assert detail_pairs(error) == [("payment", "PAYMENT_IN_PROGRESS")]
    assert_unchanged(before)


def test_cod_limit_holds(shop, customer_api, place):
    shop.india.cod_limit = Decimal("5000.00")
    shop.india.save()
    body = order_body("IN", (("TSHIRT-RED-M", 1),), payment_method="cod", payment_token=None)
    response = place(customer_api, body, confirm=False)
    assert response.status_code == 201, response.content
    order = Order.objects.get(number=response.json()["number"])
    edit = begin(customer_api, order)
    set_line(customer_api, order, edit["id"], "TSHIRT-RED-M", 4)  # 4 × 1499 > 5000
    before = snapshot()
    error = assert_error(commit(customer_api, order, edit["id"]), 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [("payment_method", "COD_NOT_AVAILABLE")]
    assert_unchanged(before)


def test_admin_order_page_lists_the_edits(placed, customer_api, staff_user, client):
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "TSHIRT-RED-M", 1)
    assert commit(customer_api, placed, edit["id"]).status_code == 200
    begin(customer_api, placed)
    client.force_login(staff_user)
    response = client.get(f"/admin/orders/order/{placed.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Edits" in page
    assert "committed" in page and "open" in page
    assert "lines_before" in page  # the committed edit's diff


def test_out_of_range_edit_id_is_404(placed, customer_api):
    huge = 10**25
    assert_error(customer_api.get(edits_url(placed.number, huge)), 404, "NOT_FOUND")
    assert_error(customer_api.post(edits_url(placed.number, huge, "commit")), 404, "NOT_FOUND")


def test_product_withdrawn_after_staging(shop, pending, customer_api):
    from inventory.models import Product

    shop.product("FAD-CAP", us="7.00", units=5)
    edit = begin(customer_api, pending)
    assert set_line(customer_api, pending, edit["id"], "FAD-CAP", 1).status_code == 200
    Product.objects.filter(sku="FAD-CAP").update(active=False)
    shown = customer_api.get(edits_url(pending.number, edit["id"])).json()
    assert shown["total"] is None
    assert next(li for li in shown["lines"] if li["sku"] == "FAD-CAP")["unit_price"] is None
    before = snapshot()
    error = assert_error(commit(customer_api, pending, edit["id"]), 400, "VALIDATION_FAILED")
    assert detail_pairs(error) == [("sku", "PRODUCT_UNAVAILABLE")]
    assert_unchanged(before)


def test_edit_above_the_review_amount_goes_back_to_review(shop, customer_api, place):
    shop.india.review_amount = Decimal("5000.00")
    shop.india.save()
    body = order_body("IN", (("TSHIRT-RED-M", 1),), payment_method="cod", payment_token=None)
    response = place(customer_api, body)
    order = Order.objects.get(number=response.json()["number"])
    assert order.status == "confirmed"
    edit = begin(customer_api, order)
    set_line(customer_api, order, edit["id"], "TSHIRT-RED-M", 4)  # 4 × 1499.00
    response = commit(customer_api, order, edit["id"])
    assert response.status_code == 200, response.content
    shown = response.json()
    assert shown["total"] == "5996.00"
    assert shown["status"] == "on_hold"
    assert [h["reason"] for h in shown["holds"]] == ["high_risk"]
    assert Payment.objects.get(order=order).amount == Decimal("5996.00")


def test_order_with_units_cancelled_by_a_refund_is_not_editable(placed, customer_api):
    from orders.models import OrderLine

    # as a staff refund with restock "cancel" leaves it (orders.services.restocking)
    OrderLine.objects.filter(order=placed, sku="HOODIE-GREY-M").update(quantity_cancelled=1)
    error = assert_error(
        customer_api.post(edits_url(placed.number), format="json"), 409, "TRANSITION_NOT_ALLOWED"
    )
    assert detail_pairs(error) == [(None, "ORDER_NOT_EDITABLE")]


def test_line_on_a_cancelled_shipment_cannot_be_removed(placed, staff_api, staff_user):
    from fulfillment.models import Shipment
    from fulfillment.services import shipment_cancel

    response = staff_api.post(
        order_url(placed.number, "shipments"),
        {"items": [{"sku": "HOODIE-GREY-M", "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    shipment_cancel(shipment=Shipment.objects.get(order=placed), actor=staff_user, reason="x")
    placed.refresh_from_db()
    assert placed.status == "processing"
    edit = begin(staff_api, placed)
    set_line(staff_api, placed, edit["id"], "HOODIE-GREY-M", 0)
    before = snapshot()
    error = assert_error(commit(staff_api, placed, edit["id"]), 409, "TRANSITION_NOT_ALLOWED")
    assert detail_pairs(error) == [(None, "LINE_NOT_REMOVABLE")]
    assert_unchanged(before)
    # lowering it instead works
    set_line(staff_api, placed, edit["id"], "HOODIE-GREY-M", 1)
    set_line(staff_api, placed, edit["id"], "TSHIRT-RED-M", 1)
    assert commit(staff_api, placed, edit["id"]).status_code == 200


def test_payment_amount_change_refuses_a_settled_payment(placed):
    from core.errors import TransitionNotAllowed
    from payments.services import payment_amount_change

    payment = Payment.objects.get(order=placed)
    Payment.objects.filter(pk=payment.pk).update(status="voided")
    with pytest.raises(TransitionNotAllowed) as caught:
        payment_amount_change(
            payment_id=payment.pk, amount=Decimal("1.00"), actor=None, reason="test"
        )
    assert [d["code"] for d in caught.value.details] == ["PAYMENT_NOT_ADJUSTABLE"]
    payment.refresh_from_db()
    assert payment.amount == placed.total


def test_the_customer_is_told_what_the_edited_order_holds_and_costs(
    placed, customer_api, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    edit = begin(customer_api, placed)
    set_line(customer_api, placed, edit["id"], "TSHIRT-RED-M", 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert commit(customer_api, placed, edit["id"]).status_code == 200

    placed_total = f"{placed.total:.2f}"
    placed.refresh_from_db()
    [email] = mail.outbox
    assert email.to == [placed.customer.email]
    assert email.subject == f"Your order {placed.number} was changed"
    assert "1 × " in email.body and "TSHIRT-RED-M" in email.body
    assert f"Total: {placed.total:.2f} USD (was {placed_total} USD)" in email.body
    # One e-mail per committed edit: a retried commit notifies nobody twice.
    notification = Notification.objects.get(
        dedupe_key=f"email:{placed.number}:updated:edit-{edit['id']}"
    )
    assert notification.status == "sent"
