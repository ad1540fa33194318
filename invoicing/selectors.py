"""Document reads. A customer sees the documents of their own orders; staff
with `invoicing.view_all_documents` (or the model's view permission) see all.
Anyone else's document is a plain 404, so existence never leaks."""

from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from orders.selectors import order_get

from .models import FiscalDocument


def user_sees_all_documents(user) -> bool:
    return bool(
        user.is_staff
        and (
            user.has_perm("invoicing.view_all_documents")
            or user.has_perm("invoicing.view_fiscaldocument")
        )
    )


def document_list(*, user) -> QuerySet[FiscalDocument]:
    qs = FiscalDocument.objects.select_related("order").defer("pdf")
    return qs if user_sees_all_documents(user) else qs.filter(order__customer=user)


def documents_for_order(*, user, number: str) -> QuerySet[FiscalDocument]:
    """The order's invoices and credit notes, oldest first (404 when the order
    is not the caller's to see)."""
    order = order_get(user=user, number=number)
    return document_list(user=user).filter(order=order).order_by("issued_at", "pk")


def document_get(*, user, number: str, kind: str, with_pdf: bool = False) -> FiscalDocument:
    qs = document_list(user=user).filter(number=number, kind=kind)
    if with_pdf:
        qs = qs.defer(None)
    document = qs.first()
    if document is None:
        raise NotFound(f"No document {number}.")
    return document
