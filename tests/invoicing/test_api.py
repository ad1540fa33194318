"""Invoices and credit notes over the API: the customer downloads their own,
staff see every one, nobody else learns they exist."""

from decimal import Decimal

from invoicing.models import FiscalDocument
from tests.orders.support import assert_error


def _shipped_and_refunded(confirmed_order, ful, staff_api, on_commit):
    order = confirmed_order([("TSHIRT-RED-M", 2)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    with on_commit():  # the refund worker runs once the request's transaction commits
        response = staff_api.post(
            f"/api/v1/orders/{order.number}/refunds/",
            {"amount": "5.00", "reason": "goodwill"},
            format="json",
        )
    assert response.status_code in (200, 201, 202), response.content
    return order


def test_customer_lists_and_downloads_their_documents(
    confirmed_order, ful, staff_api, customer_api, on_commit
):
    order = _shipped_and_refunded(confirmed_order, ful, staff_api, on_commit)

    body = customer_api.get(f"/api/v1/orders/{order.number}/invoices/").json()
    kinds = [doc["kind"] for doc in body["results"]]
    assert body["count"] == 3 and kinds == ["invoice", "invoice", "credit_note"]
    invoice, _, note = body["results"]
    assert invoice["order"] == order.number and invoice["currency"] == "USD"
    assert invoice["number"].startswith("INV-US-") and note["number"].startswith("CN-US-")
    assert note["total"] == "5.00"
    order.payment.refresh_from_db()
    captured = sum(Decimal(doc["total"]) for doc in body["results"][:2])
    assert captured == order.payment.amount_captured

    detail = customer_api.get(f"/api/v1/invoices/{invoice['number']}/").json()
    assert detail == invoice
    pdf = customer_api.get(invoice["pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert invoice["number"] in pdf["Content-Disposition"]
    stored = FiscalDocument.objects.get(number=invoice["number"])
    assert pdf.content == bytes(stored.pdf)  # as issued, not rendered again

    note_pdf = customer_api.get(f"/api/v1/credit-notes/{note['number']}/pdf/")
    assert note_pdf.status_code == 200 and note_pdf.content.startswith(b"%PDF")
    # An invoice number is not a credit note, and the other way round.
    assert_error(customer_api.get(f"/api/v1/credit-notes/{invoice['number']}/"), 404, "NOT_FOUND")


def test_documents_are_immutable_once_issued(confirmed_order, ful, customer_api, settings):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    [before] = customer_api.get(f"/api/v1/orders/{order.number}/invoices/").json()["results"]
    pdf_before = customer_api.get(before["pdf"]).content

    settings.SELLER_DETAILS = {"default": {"name": "Someone Else Ltd", "address": [], "tax_id": ""}}
    order.shipping_address = {**order.shipping_address, "name": "Renamed"}
    order.save(update_fields=["shipping_address"])

    [after] = customer_api.get(f"/api/v1/orders/{order.number}/invoices/").json()["results"]
    assert after == before
    assert customer_api.get(before["pdf"]).content == pdf_before


def test_other_customers_and_anonymous_get_nothing(
    confirmed_order, ful, other_customer_api, api, staff_api
):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    number = FiscalDocument.objects.get(order=order).number

    for url in (
        f"/api/v1/orders/{order.number}/invoices/",
        f"/api/v1/invoices/{number}/",
        f"/api/v1/invoices/{number}/pdf/",
    ):
        assert_error(other_customer_api.get(url), 404, "NOT_FOUND")
        assert_error(api.get(url), 401, "AUTHENTICATION_REQUIRED")
        assert staff_api.get(url).status_code == 200
    assert_error(staff_api.get("/api/v1/invoices/INV-US-2026-999999/"), 404, "NOT_FOUND")
