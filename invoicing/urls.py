from django.urls import path

from . import api

urlpatterns = [
    path("orders/<str:number>/invoices/", api.OrderDocumentsView.as_view(), name="order-documents"),
    path("invoices/<str:number>/", api.InvoiceView.as_view(), name="invoice-detail"),
    path("invoices/<str:number>/pdf/", api.InvoicePdfView.as_view(), name="invoice-pdf"),
    path("credit-notes/<str:number>/", api.CreditNoteView.as_view(), name="credit-note-detail"),
    path("credit-notes/<str:number>/pdf/", api.CreditNotePdfView.as_view(), name="credit-note-pdf"),
]
