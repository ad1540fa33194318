"""Staff review endpoints: approve or reject an order held for review."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.permissions import StaffWithPerms
from core.validation import validate_input

from ..selectors import order_get
from ..serializers import OrderSerializer
from ..services.confirming import order_approve, order_reject


class ApproveInput(serializers.Serializer):
    note = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Shown to the customer in the order's history. Internal findings "
        "belong in a staff-only note (review console).",
    )


class RejectInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=255,
        help_text="Shown to the customer (cancel reason, history, email). Internal "
        "findings belong in a staff-only note (review console).",
    )


class _ReviewView(APIView):
    permission_classes = [StaffWithPerms]
    required_perms = ("orders.review_order", "orders.view_order")


@extend_schema(tags=["review"])
class OrderApproveView(_ReviewView):
    @extend_schema(request=ApproveInput, responses=OrderSerializer)
    def post(self, request, number: str):
        order = order_get(user=request.user, number=number)
        data = validate_input(ApproveInput, request.data or {})
        order_approve(order=order, actor=request.user, note=data["note"])
        return Response(OrderSerializer(order_get(user=request.user, number=number)).data)


@extend_schema(tags=["review"])
class OrderRejectView(_ReviewView):
    @extend_schema(request=RejectInput, responses=OrderSerializer)
    def post(self, request, number: str):
        order = order_get(user=request.user, number=number)
        data = validate_input(RejectInput, request.data or {})
        order_reject(order=order, actor=request.user, reason=data["reason"])
        return Response(OrderSerializer(order_get(user=request.user, number=number)).data)
