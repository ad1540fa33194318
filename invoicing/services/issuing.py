"""Issue the fiscal documents a payment owes: an invoice per succeeded capture, a credit note
per succeeded refund. Idempotent: a source that already has its document is skipped."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfillment.models import Shipment
from invoicing.models import DocumentKind, FiscalDocument
from invoicing.pdf import document_pdf_render
from invoicing.services.numbering import document_number_take
from payments.models import GatewayCall, GatewayOperation, Payment, Refund, RefundStatus

CENT = Decimal("0.01")
# fulfillment captures a shipment's share under the key "shipment-<number>".
SHIPMENT_KEY_PREFIX = "shipment-"


def _seller(market: str) -> dict:
    details = getattr(settings, "SELLER_DETAILS", {}) or {}
    return dict(details.get(market) or details.get("default") or {})


def _amounts(order, amount: Decimal, *, items: list | None, shipping: Decimal, label: str):
    """Lines and totals for `amount` of the order. The whole total: the order's
    own lines and totals. Part of it: `items` (the goods it pays for, as
    (sku, name, quantity, unit_price)) and `shipping` (the fee, when this part
    carries it), with discount and tax worked back from what was charged, as the
    capture spread them in proportion to the goods' value; without items, one
    line named `label` for the share."""
    if amount == order.total:
        lines = [
            _line(line.sku, line.name, line.quantity, line.unit_price)
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
    goods = amount - shipping  # what was charged for the goods, tax and discount included
    net = (goods / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
    tax = goods - net
    charged = goods if order.prices_include_tax else net  # the goods' value after discount
    if items:
        lines = [_line(*item) for item in items]
        subtotal = sum((Decimal(line["line_total"]) for line in lines), Decimal("0.00"))
        discount = max(subtotal - charged, Decimal("0.00"))
        subtotal = charged + discount
    else:
        lines = [_line("", label, 1, charged)]
        subtotal, discount = charged, Decimal("0.00")
    totals = {
        "subtotal": subtotal,
        "discount": discount,
        "shipping": shipping,
        "tax": tax,
        "total": amount,
    }
    return lines, totals


def _line(sku: str, name: str, quantity: int, unit_price: Decimal) -> dict:
    return {
        "sku": sku,
        "name": name,
        "quantity": quantity,
        "unit_price": str(unit_price),
        "line_total": str(unit_price * quantity),
        "tax": "",  # tax is worked out on the document's total, as on the order
    }


def _shipped_items(order, call: GatewayCall) -> tuple[list | None, Decimal]:
    """The goods a shipment's capture paid for, and the shipping fee it carried
    (the first capture of the order carries it: fulfillment.services.capture)."""
    _, _, shipment_key = call.idempotency_key.rpartition(":")
    if not shipment_key.startswith(SHIPMENT_KEY_PREFIX):
        return None, Decimal("0.00")
    shipment = Shipment.objects.filter(
        order=order, number=shipment_key.removeprefix(SHIPMENT_KEY_PREFIX)
    ).first()
    if shipment is None:
        return None, Decimal("0.00")
    items = [
        (line.order_line.sku, line.order_line.name, line.quantity, line.order_line.unit_price)
        for line in shipment.lines.select_related("order_line").order_by("pk")
    ]
    first = not GatewayCall.objects.filter(
        payment=call.payment_id, operation=GatewayOperation.CAPTURE, ok=True, pk__lt=call.pk
    ).exists()
    return items, (order.shipping if first else Decimal("0.00"))


def _issue(
    *,
    order,
    kind: str,
    amount: Decimal,
    source: dict,
    label: str,
    items: list | None = None,
    shipping: Decimal = Decimal("0.00"),
) -> FiscalDocument:
    now = timezone.now()
    market = order.market.code
    lines, totals = _amounts(order, amount, items=items, shipping=shipping, label=label)
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
        items, shipping = _shipped_items(order, call)
        try:
            issued.append(
                _issue(
                    order=order,
                    kind=DocumentKind.INVOICE,
                    amount=amount,
                    source={"capture": call},
                    items=items,
                    shipping=shipping,
                    label=f"Order {order.number}: part payment",
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
                    label=f"Refund on order {order.number}: {refund.reason}"[:200],
                )
            )
        except IntegrityError:
            continue
    return issued
