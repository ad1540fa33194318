from django.urls import path

from .api import PaymentWebhookView

urlpatterns = [
    path(
        "webhooks/payments/<str:gateway>/",
        PaymentWebhookView.as_view(),
        name="payment-webhook",
    ),
]
