"""Customer (and staff) order endpoints: one view per operation."""

from __future__ import annotations

from datetime import UTC

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validation import validate_input

from ..models import Order, OrderEvent, OrderStatus
from ..selectors import (
    order_get,
    order_history,
    order_list,
    orders_attach_children,
    user_sees_all_orders,
)
from ..serializers import (
    ORDER_INPUT_CODES,
    OrderEventSerializer,
    OrderPlaceInputSerializer,
    OrderSerializer,
    ReasonInputSerializer,
)
from ..services import (
    OrderItemInput,
    idempotent_response,
    order_cancel,
    order_place,
    request_fingerprint,
)
from ..services.writing import PLACE_FAILED

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Same key + same body replays the first response; a different body is a 409.",
)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python accepts, compared in UTC (PostgreSQL
    stores offsets only up to ±15:59)."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError as exc:
                raise serializers.ValidationError(
                    {self.field_name: ["Date is out of range."]}, code="invalid"
                ) from exc
        return super().filter(qs, value)


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    market = django_filters.CharFilter(field_name="market__code", lookup_expr="iexact")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "market", "created_after", "created_before"]


def client_ip(request) -> str | None:
    # Behind a proxy, configure it to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or None


@extend_schema(tags=["orders"])
class OrderListCreateView(ListAPIView):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter

    queryset = Order.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return order_list(user=self.request.user)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        orders_attach_children(page or [])  # the page's lines and holds: two statements
        return page

    @extend_schema(
        request=OrderPlaceInputSerializer,
        responses={201: OrderSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        data = validate_input(
            OrderPlaceInputSerializer, request.data, message=PLACE_FAILED, codes=ORDER_INPUT_CODES
        )

        def produce() -> tuple[int, dict]:
            order = order_place(
                customer=request.user,
                market_code=data["market"],
                items=[OrderItemInput(sku=i["sku"], quantity=i["quantity"]) for i in data["items"]],
                shipping_method=data["shipping_method"],
                shipping_address=dict(data["shipping_address"]),
                payment_method=data["payment_method"],
                payment_token=data["payment_token"] or "",  # null: no token (cash on delivery)
                promo_code=data["promo_code"] or "",
                expected_total=data["expected_total"],
                client_ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
            return status.HTTP_201_CREATED, OrderSerializer(order).data

        code, body, replayed = idempotent_response(
            customer=request.user,
            key=request.headers.get("Idempotency-Key"),
            fingerprint=request_fingerprint(method="POST", path=request.path, body=request.data),
            produce=produce,
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(body, status=code, headers=headers)


@extend_schema(tags=["orders"])
class OrderDetailView(APIView):
    @extend_schema(responses=OrderSerializer)
    def get(self, request, number: str):
        return Response(OrderSerializer(order_get(user=request.user, number=number)).data)


@extend_schema(tags=["orders"])
class OrderCancelView(APIView):
    @extend_schema(request=ReasonInputSerializer, responses=OrderSerializer)
    def post(self, request, number: str):
        order = order_get(user=request.user, number=number)
        data = validate_input(ReasonInputSerializer, request.data or {})
        order = order_cancel(
            order=order, actor=request.user, reason=data["reason"] or "cancelled by request"
        )
        return Response(OrderSerializer(order_get(user=request.user, number=order.number)).data)


@extend_schema(tags=["orders"])
class OrderHistoryView(ListAPIView):
    serializer_class = OrderEventSerializer
    queryset = OrderEvent.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return order_history(user=self.request.user, number=self.kwargs["number"])

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["customer_view"] = not user_sees_all_orders(self.request.user)
        return context
