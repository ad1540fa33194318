from django.urls import path

from .api.shipments import (
    OrderShipmentsView,
    ShipmentCancelView,
    ShipmentDeliverView,
    ShipmentDetailView,
    ShipmentPackView,
    ShipmentShipView,
)
from .api.tracking import OrderTrackingView
from .api.webhooks import CarrierWebhookView

urlpatterns = [
    # Fulfillment endpoints under an order; orders/urls.py has no such paths.
    path("orders/<str:number>/shipments/", OrderShipmentsView.as_view(), name="order-shipments"),
    path("orders/<str:number>/tracking/", OrderTrackingView.as_view(), name="order-tracking"),
    path("shipments/<str:number>/", ShipmentDetailView.as_view(), name="shipment-detail"),
    path("shipments/<str:number>/pack/", ShipmentPackView.as_view(), name="shipment-pack"),
    path("shipments/<str:number>/ship/", ShipmentShipView.as_view(), name="shipment-ship"),
    path("shipments/<str:number>/deliver/", ShipmentDeliverView.as_view(), name="shipment-deliver"),
    path("shipments/<str:number>/cancel/", ShipmentCancelView.as_view(), name="shipment-cancel"),
    path("webhooks/carriers/<str:carrier>/", CarrierWebhookView.as_view(), name="carrier-webhook"),
]
