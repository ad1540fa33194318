from django.contrib import admin
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdminMixin
from core.admin_paging import LargeTableAdminMixin
from invoicing.models import FiscalDocument


@admin.register(FiscalDocument)
class FiscalDocumentAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "kind",
        "market",
        "order",
        "issued_at",
        "currency",
        "total",
        "pdf_link",
    ]
    list_filter = ["market", "kind"]
    search_fields = ["number", "order__number"]
    list_select_related = ["order"]
    exclude = ["pdf"]

    def get_urls(self):
        return [
            path(
                "<int:pk>/pdf/",
                self.admin_site.admin_view(self.pdf_download),
                name="invoicing_fiscaldocument_pdf",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="PDF")
    def pdf_link(self, obj: FiscalDocument) -> str:
        url = reverse("admin:invoicing_fiscaldocument_pdf", args=[obj.pk])
        return format_html('<a class="button" href="{}">Download</a>', url)

    def pdf_download(self, request, pk: int):
        document = get_object_or_404(FiscalDocument, pk=pk)
        if not self.has_view_permission(request, document):
            return HttpResponse(status=403)
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document.number}.pdf"'
        return response
