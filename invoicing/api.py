"""Invoices and credit notes over the API: the order's documents, one
document, and its PDF (as issued: the stored bytes, never re-rendered)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from .models import DocumentKind, FiscalDocument
from .selectors import document_get, documents_for_order

PDF_URL_NAMES = {DocumentKind.INVOICE: "invoice-pdf", DocumentKind.CREDIT_NOTE: "credit-note-pdf"}


class DocumentSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    discount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    shipping = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    tax = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    pdf = serializers.SerializerMethodField()

    class Meta:
        model = FiscalDocument
        fields = [
            "number",
            "kind",
            "order",
            "issued_at",
            "currency",
            "tax_included",
            "lines",
            "subtotal",
            "discount",
            "shipping",
            "tax",
            "total",
            "seller",
            "pdf",
        ]

    def get_pdf(self, document: FiscalDocument) -> str:
        return reverse(
            PDF_URL_NAMES[document.kind],
            kwargs={"number": document.number},
            request=self.context.get("request"),
        )


@extend_schema(
    tags=["invoices"],
    description="The order's invoices (one per capture) and credit notes (one per "
    "refund), oldest first. Customers: their own orders only; another order is a 404.",
)
class OrderDocumentsView(ListAPIView):
    serializer_class = DocumentSerializer
    queryset = FiscalDocument.objects.none()  # for the schema; get_queryset answers

    def get_queryset(self):
        return documents_for_order(user=self.request.user, number=self.kwargs["number"])


class _DocumentView(APIView):
    kind: str

    @extend_schema(responses=DocumentSerializer)
    def get(self, request, number: str):
        document = document_get(user=request.user, number=number, kind=self.kind)
        return Response(DocumentSerializer(document, context={"request": request}).data)


class _DocumentPdfView(APIView):
    kind: str

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, number: str):
        document = document_get(user=request.user, number=number, kind=self.kind, with_pdf=True)
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document.number}.pdf"'
        return response


@extend_schema(tags=["invoices"], description="One invoice, as issued.")
class InvoiceView(_DocumentView):
    kind = DocumentKind.INVOICE


@extend_schema(tags=["invoices"], description="The invoice's PDF, as issued (immutable).")
class InvoicePdfView(_DocumentPdfView):
    kind = DocumentKind.INVOICE


@extend_schema(tags=["invoices"], description="One credit note, as issued.")
class CreditNoteView(_DocumentView):
    kind = DocumentKind.CREDIT_NOTE


@extend_schema(tags=["invoices"], description="The credit note's PDF, as issued (immutable).")
class CreditNotePdfView(_DocumentPdfView):
    kind = DocumentKind.CREDIT_NOTE
