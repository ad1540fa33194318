"""Customer return endpoints (staff see everyone's): open, list, read, cancel."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validation import validate_input

from ..models import ReturnRequest, ReturnStatus
from ..selectors import return_detail, return_get, return_list
from ..services import ReturnItemInput, return_cancel, return_create
from ..services.creating import CREATE_FAILED
from .serializers import (
    RETURN_INPUT_CODES,
    ReturnCreateInputSerializer,
    ReturnReasonInputSerializer,
    ReturnSerializer,
)


class ReturnFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ReturnStatus.choices)
    order = django_filters.CharFilter(field_name="order__number")

    class Meta:
        model = ReturnRequest
        fields = ["status", "order"]


@extend_schema(tags=["returns"])
class ReturnListCreateView(ListAPIView):
    serializer_class = ReturnSerializer
    filterset_class = ReturnFilter
    queryset = ReturnRequest.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return return_list(user=self.request.user)

    @extend_schema(
        request=ReturnCreateInputSerializer,
        responses={201: ReturnSerializer},
        description="Open a return for units of a delivered order, within the market's "
        "return window. Refusals are 400 VALIDATION_FAILED with ORDER_NOT_RETURNABLE, "
        "RETURN_WINDOW_EXPIRED, RETURN_QUANTITY_EXCEEDED or ITEMS_REQUIRED in `details`.",
    )
    def post(self, request):
        data = validate_input(
            ReturnCreateInputSerializer,
            request.data,
            message=CREATE_FAILED,
            codes=RETURN_INPUT_CODES,
        )
        rr = return_create(
            user=request.user,
            order_number=data["order"],
            reason=data["reason"],
            items=[
                ReturnItemInput(
                    sku=i["sku"], quantity=i["quantity"], replacement_sku=i["replacement_sku"]
                )
                for i in data["items"]
            ],
            comment=data["comment"],
            resolution=data["resolution"],
        )
        body = ReturnSerializer(return_detail(return_id=rr.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["returns"])
class ReturnDetailView(APIView):
    @extend_schema(responses=ReturnSerializer)
    def get(self, request, number: str):
        return Response(ReturnSerializer(return_get(user=request.user, number=number)).data)


@extend_schema(tags=["returns"])
class ReturnCancelView(APIView):
    @extend_schema(
        request=ReturnReasonInputSerializer,
        responses=ReturnSerializer,
        description="Allowed while the return is `initiated`; 409 after that.",
    )
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        data = validate_input(ReturnReasonInputSerializer, request.data or {})
        return_cancel(rr=rr, actor=request.user, reason=data["reason"])
        return Response(ReturnSerializer(return_get(user=request.user, number=number)).data)
