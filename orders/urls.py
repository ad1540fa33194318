from django.urls import path

from .api.auth import RegisterView, TokenView
from .api.catalog import ProductListCreateView
from .api.holds import (
    OrderHoldReleaseView,
    OrderHoldsView,
    ShipmentHoldReleaseView,
    ShipmentHoldsView,
)
from .api.markets import MarketListView
from .api.orders import OrderCancelView, OrderDetailView, OrderHistoryView, OrderListCreateView
from .api.review import OrderApproveView, OrderRejectView

urlpatterns = [
    path("auth/register/", RegisterView.as_view(), name="auth-register"),
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("markets/", MarketListView.as_view(), name="market-list"),
    path("products/", ProductListCreateView.as_view(), name="product-list"),
    path("orders/", OrderListCreateView.as_view(), name="order-list"),
    path("orders/<str:number>/", OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:number>/cancel/", OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<str:number>/approve/", OrderApproveView.as_view(), name="order-approve"),
    path("orders/<str:number>/reject/", OrderRejectView.as_view(), name="order-reject"),
    path("orders/<str:number>/history/", OrderHistoryView.as_view(), name="order-history"),
    path("orders/<str:number>/holds/", OrderHoldsView.as_view(), name="order-holds"),
    path(
        "orders/<str:number>/holds/<int:hold_id>/release/",
        OrderHoldReleaseView.as_view(),
        name="order-hold-release",
    ),
    path("shipments/<str:number>/holds/", ShipmentHoldsView.as_view(), name="shipment-holds"),
    path(
        "shipments/<str:number>/holds/<int:hold_id>/release/",
        ShipmentHoldReleaseView.as_view(),
        name="shipment-hold-release",
    ),
]
