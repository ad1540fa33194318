"""The document PDF, rendered once at issue and stored (fulfillment's reportlab helpers)."""

from __future__ import annotations

from fulfillment.documents.common import build, para, table
from invoicing.models import DocumentKind, FiscalDocument

TITLES = {DocumentKind.INVOICE: "Invoice", DocumentKind.CREDIT_NOTE: "Credit note"}


def document_pdf_render(document: FiscalDocument, *, compress: bool = True) -> bytes:
    title = f"{TITLES[document.kind]} {document.number}"
    seller = document.seller or {}
    story = [para(title, "Title"), para(seller.get("name", ""), "Heading3")]
    story += [para(line) for line in seller.get("address", [])]
    if seller.get("tax_id"):
        story.append(para(f"Tax id: {seller['tax_id']}"))
    story.append(para(f"Order {document.order.number} - issued {document.issued_at:%Y-%m-%d}"))
    rows = [["SKU", "Item", "Qty", "Unit price", "Tax", "Line total"]]
    for line in document.lines:
        rows.append(
            [
                para(line["sku"]),
                para(line["name"]),
                str(line["quantity"]),
                line["unit_price"],
                line["tax"],
                line["line_total"],
            ]
        )
    story.append(table(rows, [28, 70, 12, 25, 20, 25]))
    tax_label = "Tax (included)" if document.tax_included else "Tax"
    for label, value in (
        ("Subtotal", document.subtotal),
        ("Discount", document.discount),
        ("Shipping", document.shipping),
        (tax_label, document.tax),
        ("Total", document.total),
    ):
        story.append(para(f"{label}: {value} {document.currency}"))
    return build(story, title=title, compress=compress)
