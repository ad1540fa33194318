"""Shipping captures the payment, and each capture gets its numbered invoice with a PDF."""

from invoicing.models import FiscalDocument
from invoicing.services.issuing import documents_issue_for_payment


def test_each_capture_gets_one_invoice_with_its_pdf(confirmed_order, ful):
    order = confirmed_order([("TSHIRT-RED-M", 2)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])

    invoices = list(FiscalDocument.objects.filter(order=order, kind="invoice"))
    order.payment.refresh_from_db()
    assert len(invoices) == 2
    assert [doc.number[-6:] for doc in invoices] == ["000001", "000002"]
    assert sum(doc.total for doc in invoices) == order.payment.amount_captured
    # Each invoice lists the goods its shipment carried; the first carries shipping.
    assert [[(line["sku"], line["quantity"]) for line in doc.lines] for doc in invoices] == [
        [("TSHIRT-RED-M", 1)],
        [("TSHIRT-RED-M", 1)],
    ]
    assert [doc.shipping for doc in invoices] == [order.shipping, 0]
    for doc in invoices:
        assert doc.subtotal - doc.discount + doc.shipping + doc.tax == doc.total  # tax added (US)
        pdf = bytes(doc.pdf)
        assert pdf.startswith(b"%PDF")
        assert doc.number.startswith("INV-US-")

    # A retry (the sweep, a redelivered message) issues nothing new.
    assert documents_issue_for_payment(payment_id=order.payment.pk) == []
    assert FiscalDocument.objects.filter(order=order).count() == 2
