from django.urls import path

from orders.api.refunds import OrderRefundListCreateView

from .api.customer import ReturnCancelView, ReturnDetailView, ReturnListCreateView
from .api.staff import (
    ReturnApproveView,
    ReturnInTransitView,
    ReturnReceiveView,
    ReturnRefundView,
    ReturnRejectView,
    ReturnReplaceView,
    ReturnSchedulePickupView,
)

urlpatterns = [
    path("returns/", ReturnListCreateView.as_view(), name="return-list"),
    path("returns/<str:number>/", ReturnDetailView.as_view(), name="return-detail"),
    path("returns/<str:number>/cancel/", ReturnCancelView.as_view(), name="return-cancel"),
    path("returns/<str:number>/approve/", ReturnApproveView.as_view(), name="return-approve"),
    path("returns/<str:number>/reject/", ReturnRejectView.as_view(), name="return-reject"),
    path(
        "returns/<str:number>/schedule-pickup/",
        ReturnSchedulePickupView.as_view(),
        name="return-schedule-pickup",
    ),
    path(
        "returns/<str:number>/in-transit/", ReturnInTransitView.as_view(), name="return-in-transit"
    ),
    path("returns/<str:number>/receive/", ReturnReceiveView.as_view(), name="return-receive"),
    path("returns/<str:number>/refund/", ReturnRefundView.as_view(), name="return-refund"),
    path("returns/<str:number>/replace/", ReturnReplaceView.as_view(), name="return-replace"),
    # Staff refunds outside returns live in orders (orders/api/refunds.py); the
    # path is mounted here because orders/urls.py belongs to another change set.
    path(
        "orders/<str:number>/refunds/",
        OrderRefundListCreateView.as_view(),
        name="order-refunds",
    ),
]
