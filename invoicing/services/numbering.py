"""Gap-free document numbers per (market, kind, year)."""

from django.db import transaction

from invoicing.models import DocumentCounter, DocumentKind

PREFIXES = {DocumentKind.INVOICE: "INV", DocumentKind.CREDIT_NOTE: "CN"}


def document_number_take(*, market: str, kind: str, year: int) -> tuple[int, str]:
    """Take the next number; must run inside the transaction that inserts the document,
    so the counter row stays locked until commit and a rollback hands the number back."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document_number_take must run inside the issuing transaction")
    DocumentCounter.objects.get_or_create(market=market, kind=kind, year=year)
    counter = DocumentCounter.objects.select_for_update().get(market=market, kind=kind, year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number, f"{PREFIXES[kind]}-{market}-{year}-{counter.last_number:06d}"
