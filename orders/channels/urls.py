from django.urls import path

from .api import ChannelOrderWebhookView

urlpatterns = [
    path(
        "webhooks/channels/<str:channel>/orders/",
        ChannelOrderWebhookView.as_view(),
        name="channel-order-webhook",
    ),
]
