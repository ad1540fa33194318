"""Staff refunds outside returns (goodwill, price adjustments):
`POST /api/v1/orders/{number}/refunds/`, and the order's refunds listed."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from core.fields import StrictIntegerField
from core.permissions import StaffWithPerms
from core.validation import validate_input
from payments.models import Refund

from ..selectors import order_get
from ..services.refunds import order_refund
from ..services.restocking import RESTOCK_CHOICES, RefundLineInput
from .orders import IDEMPOTENCY_HEADER

REFUND_INPUT_CODES = {
    "amount:*": "INVALID_AMOUNT",
    "reason:*": "REASON_REQUIRED",
    "lines:*": "INVALID_LINES",
    "lines[].sku:*": "PRODUCT_NOT_FOUND",
    "lines[].quantity:*": "INVALID_QUANTITY",
    "lines[].restock:*": "INVALID_RESTOCK",
    "lines[].warehouse:*": "WAREHOUSE_NOT_FOUND",
}


class RefundLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = StrictIntegerField(min_value=1, help_text="A JSON integer, at least 1.")
    restock = serializers.ChoiceField(
        choices=RESTOCK_CHOICES,
        help_text="`cancel`: units not shipped yet leave the order (reservation released, no "
        "longer to ship). `return`: shipped units go back on hand (a `return` ledger row). "
        "`none`: money only, no stock movement.",
    )
    warehouse = serializers.CharField(
        max_length=32,
        required=False,
        help_text="For `return`: the warehouse code the units go back to (active, serving the "
        "order's market). Default: the warehouse they shipped from.",
    )


class OrderRefundInputSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="Required without `lines`. Without it, the lines' share of what was paid.",
    )
    reason = serializers.CharField(max_length=255, help_text="Kept in the audit trail.")
    lines = RefundLineSerializer(many=True, required=False, allow_empty=True)


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
        "Idempotency-Key refunds once (a different amount with it is a 409).\n\n"
        "`lines` (optional) name the refunded units and what happens to their goods "
        "(`restock`: `cancel` | `return` | `none`, see the line schema); the order event of "
        "the refund lists them, `return` rows in the stock ledger carry the reference "
        "`<order number>/refund-<id>`, the actor and the reason. Without `amount`, the refund "
        "is the lines' share of what was paid: (order total − shipping) × (Σ unit price × "
        "units) / subtotal, rounded half-up to cents once, so the order's discount and tax "
        "are shared in proportion and shipping is never included (give `amount` for that); "
        "the same rule payments use to capture as goods ship. For `cancel` units (not shipped) "
        "only what was already charged for them counts: what was captured beyond the shipped "
        "goods, shipping and earlier cancelled units (all of it on a single-capture gateway, "
        "none on one that captures per shipment). When that comes to 0.00, no money moves: "
        "201 with amount 0.00 and status `nothing_to_refund` (no refund is listed), the goods "
        "are booked and the order's history says so. "
        "Errors (400 VALIDATION_FAILED, field `lines[i].<field>`, nothing changes): "
        "PRODUCT_NOT_FOUND (sku not in the order), INVALID_QUANTITY (not an integer ≥ 1), "
        "INVALID_RESTOCK, WAREHOUSE_NOT_FOUND (unknown, inactive or not serving the market), "
        "RESTOCK_QUANTITY_EXCEEDED (more than can be cancelled: not shipped nor cancelled; "
        "returned: shipped and not returned; or, for `none`, ordered and not cancelled).",
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
            amount=data.get("amount"),
            reason=data["reason"],
            actor=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            lines=[RefundLineInput(**line) for line in data.get("lines") or []] or None,
        )
        return Response(OrderRefundSerializer(refund).data, status=status.HTTP_201_CREATED)
