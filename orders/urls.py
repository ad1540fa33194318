from django.urls import path

from .api.auth import RegisterView, TokenView
from .api.catalog import ProductListCreateView
from .api.edits import (
    OrderEditAddressView,
    OrderEditBeginView,
    OrderEditCommitView,
    OrderEditDetailView,
    OrderEditDiscardView,
    OrderEditLineView,
)
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
    path("orders/<str:number>/edits/", OrderEditBeginView.as_view(), name="order-edits"),
    path(
        "orders/<str:number>/edits/<int:edit_id>/",
        OrderEditDetailView.as_view(),
        name="order-edit-detail",
    ),
    path(
        "orders/<str:number>/edits/<int:edit_id>/lines/",
        OrderEditLineView.as_view(),
        name="order-edit-lines",
    ),
    path(
        "orders/<str:number>/edits/<int:edit_id>/address/",
        OrderEditAddressView.as_view(),
        name="order-edit-address",
    ),
    path(
        "orders/<str:number>/edits/<int:edit_id>/commit/",
        OrderEditCommitView.as_view(),
        name="order-edit-commit",
    ),
    path(
        "orders/<str:number>/edits/<int:edit_id>/discard/",
        OrderEditDiscardView.as_view(),
        name="order-edit-discard",
    ),
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
