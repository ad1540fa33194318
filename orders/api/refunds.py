"""Staff refunds outside returns (goodwill, price adjustments):
`POST /api/v1/orders/{number}/refunds/`, and the order's refunds listed."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from core.permissions import StaffWithPerms
from core.validation import validate_input
from payments.models import Refund

from ..selectors import order_get
from ..services.refunds import order_refund
from .orders import IDEMPOTENCY_HEADER

REFUND_INPUT_CODES = {"amount:*": "INVALID_AMOUNT", "reason:*": "REASON_REQUIRED"}


class OrderRefundInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reason = serializers.CharField(max_length=255, help_text="Kept in the audit trail.")


class OrderRefundSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        model = Refund
        fields = ["amount", "currency", "status", "reason", "source", "created_at"]


@extend_schema(tags=["payments (staff)"])
class OrderRefundListCreateView(ListAPIView):
    permission_classes = [StaffWithPerms]
    required_perms = {
        "GET": ("payments.view_refund", "orders.view_order"),
        "POST": ("payments.add_refund", "orders.view_order"),
    }
    serializer_class = OrderRefundSerializer
    queryset = Refund.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        order = order_get(user=self.request.user, number=self.kwargs["number"])
        return Refund.objects.filter(payment__order=order).order_by("-created_at", "-id")

    @extend_schema(
        request=OrderRefundInputSerializer,
        responses={201: OrderRefundSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        description="Refund part of what was captured. Partial refunds add up, never above "
        "what was captured: 400 VALIDATION_FAILED with REFUND_EXCEEDS_CAPTURED. The same "
        "Idempotency-Key refunds once (a different amount with it is a 409).",
    )
    def post(self, request, number: str):
        order = order_get(user=request.user, number=number)
        data = validate_input(
            OrderRefundInputSerializer,
            request.data,
            message="The refund was rejected.",
            codes=REFUND_INPUT_CODES,
        )
        refund = order_refund(
            order=order,
            amount=data["amount"],
            reason=data["reason"],
            actor=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(OrderRefundSerializer(refund).data, status=status.HTTP_201_CREATED)
