"""GET /orders/{number}/tracking/: the customer's view of where their order is."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.selectors import order_get

from ..selectors import tracking_shipments
from ..serializers import OrderTrackingSerializer


@extend_schema(tags=["orders"])
class OrderTrackingView(APIView):
    @extend_schema(
        responses=OrderTrackingSerializer,
        description="The order's status and its shipments (not cancelled ones) with carrier "
        "events. Customers see their own orders only (others are 404); staff see all.",
    )
    def get(self, request, number: str):
        order = order_get(user=request.user, number=number)
        body = {"status": order.status, "shipments": tracking_shipments(order=order)}
        return Response(OrderTrackingSerializer(body).data)
