"""Issue the fiscal documents a payment owes: an invoice per succeeded capture, a credit note
per succeeded refund. Idempotent: a source that already has its document is skipped."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from invoicing.models import DocumentKind, FiscalDocument
from invoicing.pdf import document_pdf_render
from invoicing.services.numbering import document_number_take
from payments.models import GatewayCall, GatewayOperation, Payment, Refund, RefundStatus

CENT = Decimal("0.01")


def _seller(market: str) -> dict:
    details = getattr(settings, "SELLER_DETAILS", {}) or {}
    return dict(details.get(market) or details.get("default") or {})


def _amounts(order, amount: Decimal) -> tuple[list[dict], dict]:
    """Lines and totals for `amount` of the order: the order's own when it is the whole total,
    else one line for that share, its tax worked out at the order's rate."""
    if amount == order.total:
        lines = [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "line_total": str(line.line_total),
                "tax": "",
            }
            for line in order.lines.order_by("pk")
        ]
        totals = {
            "subtotal": order.subtotal,
            "discount": order.discount,
            "shipping": order.shipping,
            "tax": order.tax,
            "total": order.total,
        }
        return lines, totals
    rate = order.tax_rate if order.tax > 0 else Decimal(0)
    net = (amount / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
    tax = amount - net
    base = amount if order.prices_include_tax else net
    line = {
        "sku": "",
        "name": f"Order {order.number}: shipped share",
        "quantity": 1,
        "unit_price": str(base),
        "line_total": str(base),
        "tax": str(tax),
    }
    totals = {"subtotal": base, "discount": 0, "shipping": 0, "tax": tax, "total": amount}
    return [line], totals


def _issue(*, order, kind: str, amount: Decimal, source: dict) -> FiscalDocument:
    now = timezone.now()
    market = order.market.code
    lines, totals = _amounts(order, amount)
    with transaction.atomic():
        sequence, number = document_number_take(market=market, kind=kind, year=now.year)
        document = FiscalDocument(
            number=number,
            kind=kind,
            market=market,
            year=now.year,
            sequence=sequence,
            order=order,
            issued_at=now,
            currency=order.currency,
            tax_included=order.prices_include_tax,
            lines=lines,
            seller=_seller(market),
            **totals,
            **source,
        )
        document.pdf = document_pdf_render(document)
        document.save()
    return document


def documents_issue_for_payment(*, payment_id: int, actor=None) -> list[FiscalDocument]:
    """Issue every missing document of the payment; returns the ones issued now."""
    payment = Payment.objects.select_related("order__market").get(pk=payment_id)
    order = payment.order
    issued = []
    captures = GatewayCall.objects.filter(
        payment=payment, operation=GatewayOperation.CAPTURE, ok=True, invoice__isnull=True
    ).order_by("pk")
    for call in captures:
        amount = Decimal(str(call.amount))
        try:
            issued.append(
                _issue(
                    order=order, kind=DocumentKind.INVOICE, amount=amount, source={"capture": call}
                )
            )
        except IntegrityError:
            continue  # a concurrent run issued it: one document per source
    refunds = Refund.objects.filter(
        payment=payment, status=RefundStatus.SUCCEEDED, credit_note__isnull=True
    ).order_by("pk")
    for refund in refunds:
        try:
            issued.append(
                _issue(
                    order=order,
                    kind=DocumentKind.CREDIT_NOTE,
                    amount=refund.amount,
                    source={"refund": refund},
                )
            )
        except IntegrityError:
            continue
    return issued
