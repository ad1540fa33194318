"""Order edits, staged then committed: begin, change lines or the shipping address,
preview the recalculated totals, commit or discard.

The customer may edit their own order while it is `pending`, `on_hold` or
`confirmed`; staff with `orders.change_order` also while it is `processing`;
never once a shipment exists. Someone else's order is a 404, as everywhere.
Conflicts are 409 TRANSITION_NOT_ALLOWED with a detail code: EDIT_IN_PROGRESS
(another edit is open), EDIT_STALE (the order changed since the edit began),
EDIT_CLOSED (already committed or discarded), ORDER_NOT_EDITABLE (status, a
shipment exists, or units were refunded), PAYMENT_IN_PROGRESS (the payment is being authorized right
now), REAUTHORIZATION_NOT_SUPPORTED (the new total is above what the card
authorization holds and the gateway cannot raise it, or the card declined the
increase: cancel and re-place the order instead; the test and Stripe gateways
raise holds, Razorpay cannot), PAYMENT_NOT_ADJUSTABLE (the payment was
captured, voided or failed), LINE_NOT_REMOVABLE (the line appears on a cancelled
shipment: lower it instead). A confirmed or processing order edited above its
market's review amount goes on hold for review."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed
from core.fields import StrictIntegerField
from core.validation import validate_input

from ..models import OrderEdit, OrderEditStatus
from ..selectors import order_get
from ..serializers import MONEY, ORDER_INPUT_CODES, AddressSerializer, OrderSerializer, _address
from ..services.editing import (
    EDIT_FAILED,
    order_edit_begin,
    order_edit_commit,
    order_edit_discard,
    order_edit_get,
    order_edit_preview,
    order_edit_set_address,
    order_edit_set_line,
)

LINE_INPUT_CODES = {
    "sku:*": "PRODUCT_NOT_FOUND",
    "quantity:MIN_VALUE": "INVALID_QUANTITY",
    "quantity:INVALID": "INVALID_QUANTITY",
    "quantity:REQUIRED": "INVALID_QUANTITY",
    "quantity:NULL": "INVALID_QUANTITY",
    "quantity:MAX_STRING_LENGTH": "INVALID_QUANTITY",
    "quantity:MAX_VALUE": "QUANTITY_LIMIT",
}
ADDRESS_INPUT_CODES = {k: v for k, v in ORDER_INPUT_CODES.items() if k.startswith("shipping_")}
_MONEY = serializers.DecimalField(**MONEY)


class EditLineInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="PRODUCT_NOT_FOUND when missing.")
    quantity = StrictIntegerField(
        min_value=0,
        max_value=100,
        help_text="The line's new quantity; 0 removes it (ITEMS_REQUIRED for the last line).",
    )


class EditAddressInput(serializers.Serializer):
    shipping_address = AddressSerializer()


class EditLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(
        **MONEY,
        allow_null=True,
        help_text="Frozen at placing for SKUs already on the order; today's price else "
        "(null when the SKU is no longer sold: committing is refused with PRODUCT_UNAVAILABLE).",
    )
    line_total = serializers.DecimalField(**MONEY, allow_null=True)


class OrderEditSerializer(serializers.Serializer):
    """The staged edit and the order's totals as committing it would make them
    (for a committed edit: as it made them)."""

    id = serializers.IntegerField()
    order = serializers.CharField(help_text="The order's number.")
    status = serializers.ChoiceField(choices=OrderEditStatus.choices)
    currency = serializers.CharField()
    lines = EditLineSerializer(many=True)
    shipping_address = AddressSerializer()
    subtotal = serializers.DecimalField(**MONEY, allow_null=True)
    discount = serializers.DecimalField(**MONEY, allow_null=True)
    shipping = serializers.DecimalField(**MONEY, allow_null=True)
    tax = serializers.DecimalField(**MONEY, allow_null=True)
    total = serializers.DecimalField(
        **MONEY,
        allow_null=True,
        help_text="Null for a discarded edit, or when a staged SKU can no longer be priced.",
    )
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    committed_at = serializers.DateTimeField(allow_null=True)
    discarded_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, edit: OrderEdit) -> dict:
        order = edit.order
        when = serializers.DateTimeField().to_representation
        body = {
            "id": edit.pk,
            "order": order.number,
            "status": edit.status,
            "currency": order.currency,
            "lines": [
                {"sku": s, "name": "", "quantity": q, "unit_price": None, "line_total": None}
                for s, q in edit.lines.items()
            ],
            "shipping_address": _address(edit.shipping_address),
            "subtotal": None,
            "discount": None,
            "shipping": None,
            "tax": None,
            "total": None,
            "created_by": edit.created_by.username if edit.created_by_id else None,
            "created_at": when(edit.created_at),
            "committed_at": when(edit.committed_at) if edit.committed_at else None,
            "discarded_at": when(edit.discarded_at) if edit.discarded_at else None,
        }
        if edit.status == OrderEditStatus.COMMITTED and edit.diff:
            body.update(edit.diff["totals_after"])
        try:
            preview = order_edit_preview(edit=edit)
        except ValidationFailed:  # a staged product stopped being sold: commit will say so
            return body
        body["lines"] = [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _MONEY.to_representation(line.unit_price),
                "line_total": _MONEY.to_representation(line.unit_price * line.quantity),
            }
            for line in preview.lines
        ]
        if edit.status == OrderEditStatus.OPEN:
            totals = preview.totals
            for name in ("subtotal", "discount", "shipping", "tax", "total"):
                body[name] = _MONEY.to_representation(getattr(totals, name))
        return body


def _edit(request, number: str, edit_id: int) -> OrderEdit:
    return order_edit_get(order=order_get(user=request.user, number=number), edit_id=edit_id)


def _edit_response(edit: OrderEdit, code: int = status.HTTP_200_OK) -> Response:
    edit = OrderEdit.objects.select_related("order__market", "created_by").get(pk=edit.pk)
    return Response(OrderEditSerializer(edit).data, status=code)


@extend_schema(tags=["order edits"])
class OrderEditBeginView(APIView):
    @extend_schema(
        request=None,
        responses={201: OrderEditSerializer},
        description="Stage an edit of the order as it is now (409 EDIT_IN_PROGRESS when "
        "another is open, ORDER_NOT_EDITABLE when its status or a shipment forbids it).",
    )
    def post(self, request, number: str):
        order = order_get(user=request.user, number=number)
        edit = order_edit_begin(order=order, actor=request.user)
        return _edit_response(edit, status.HTTP_201_CREATED)


@extend_schema(tags=["order edits"])
class OrderEditDetailView(APIView):
    @extend_schema(responses=OrderEditSerializer, description="The edit and its totals preview.")
    def get(self, request, number: str, edit_id: int):
        return _edit_response(_edit(request, number, edit_id))


@extend_schema(tags=["order edits"])
class OrderEditLineView(APIView):
    @extend_schema(
        request=EditLineInput,
        responses=OrderEditSerializer,
        description="Stage a line's quantity (0 removes it). Detail codes as for placing: "
        "PRODUCT_NOT_FOUND, PRODUCT_UNAVAILABLE, INVALID_QUANTITY, QUANTITY_LIMIT, "
        "TOO_MANY_ITEMS, ITEMS_REQUIRED.",
    )
    def post(self, request, number: str, edit_id: int):
        edit = _edit(request, number, edit_id)
        data = validate_input(
            EditLineInput, request.data, message=EDIT_FAILED, codes=LINE_INPUT_CODES
        )
        edit = order_edit_set_line(
            edit=edit, actor=request.user, sku=data["sku"], quantity=data["quantity"]
        )
        return _edit_response(edit)


@extend_schema(tags=["order edits"])
class OrderEditAddressView(APIView):
    @extend_schema(
        request=EditAddressInput,
        responses=OrderEditSerializer,
        description="Stage a new shipping address (ADDRESS_INCOMPLETE, INVALID_PHONE).",
    )
    def post(self, request, number: str, edit_id: int):
        edit = _edit(request, number, edit_id)
        data = validate_input(
            EditAddressInput, request.data, message=EDIT_FAILED, codes=ADDRESS_INPUT_CODES
        )
        edit = order_edit_set_address(
            edit=edit, actor=request.user, shipping_address=dict(data["shipping_address"])
        )
        return _edit_response(edit)


@extend_schema(tags=["order edits"])
class OrderEditCommitView(APIView):
    @extend_schema(
        request=None,
        responses=OrderSerializer,
        description="Apply the edit: stock re-reserved, the payment's amount settled (a "
        "card authorization smaller than the new total is raised at the gateway first), one "
        "audit row with the diff. 409 EDIT_STALE, ORDER_NOT_EDITABLE, EDIT_CLOSED, "
        "LINE_NOT_REMOVABLE (the line is on a cancelled shipment), "
        "PAYMENT_IN_PROGRESS, REAUTHORIZATION_NOT_SUPPORTED, PAYMENT_NOT_ADJUSTABLE; 503 "
        "SERVICE_UNAVAILABLE when the payment gateway does not answer; 400 "
        "INSUFFICIENT_STOCK, COD_NOT_AVAILABLE. Nothing changes when refused.",
    )
    def post(self, request, number: str, edit_id: int):
        edit = _edit(request, number, edit_id)
        order = order_edit_commit(edit=edit, actor=request.user)
        return Response(OrderSerializer(order_get(user=request.user, number=order.number)).data)


@extend_schema(tags=["order edits"])
class OrderEditDiscardView(APIView):
    @extend_schema(request=None, responses=OrderEditSerializer, description="Drop the edit.")
    def post(self, request, number: str, edit_id: int):
        edit = _edit(request, number, edit_id)
        return _edit_response(order_edit_discard(edit=edit, actor=request.user))
