"""Fiscal documents: an invoice per capture, a credit note per succeeded refund.

Everything a document shows is frozen at issue (lines, totals, seller details, the PDF
bytes), so later changes to settings or the order never change an issued document.
"""

from django.db import models


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class DocumentCounter(models.Model):
    """The last number issued per (market, kind, year); locked while a document is inserted,
    so a rollback gives the number back and the sequence has no gaps."""

    market = models.CharField(max_length=8)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["market", "kind", "year"], name="invoicing_counter_market_kind_year"
            )
        ]


class FiscalDocument(models.Model):
    number = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    market = models.CharField(max_length=8)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="fiscal_documents"
    )
    # The source event: the capture's gateway call (invoice) or the refund (credit note).
    capture = models.OneToOneField(
        "payments.GatewayCall",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice",
    )
    refund = models.OneToOneField(
        "payments.Refund",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_note",
    )
    issued_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    tax_included = models.BooleanField()
    lines = models.JSONField(default=list)
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    discount = models.DecimalField(max_digits=14, decimal_places=2)
    shipping = models.DecimalField(max_digits=14, decimal_places=2)
    tax = models.DecimalField(max_digits=14, decimal_places=2)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    seller = models.JSONField(default=dict)
    pdf = models.BinaryField()

    class Meta:
        ordering = ["issued_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "kind", "year", "sequence"],
                name="invoicing_document_sequence_unique",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="invoice", capture__isnull=False, refund__isnull=True)
                    | models.Q(kind="credit_note", capture__isnull=True, refund__isnull=False)
                ),
                name="invoicing_document_one_source",
            ),
        ]
        permissions = [("view_all_documents", "Can view every customer's documents")]

    def __str__(self) -> str:
        return self.number
