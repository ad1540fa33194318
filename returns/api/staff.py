"""Staff return endpoints: one view per step of the workflow. Each checks the
request's shape, calls the service and answers with the return."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.permissions import StaffWithPerms
from core.validation import validate_input

from ..selectors import return_get
from ..services import (
    ReceivedItemInput,
    return_approve,
    return_mark_in_transit,
    return_receive,
    return_reject,
    return_replace,
    return_request_refund,
    return_schedule_pickup,
)
from ..services.receiving import RECEIVE_FAILED
from .serializers import (
    RETURN_INPUT_CODES,
    ReturnNoteInputSerializer,
    ReturnPickupInputSerializer,
    ReturnReceiveInputSerializer,
    ReturnRejectInputSerializer,
    ReturnSerializer,
)

RETURN_PERMS = ("returns.view_returnrequest", "returns.change_returnrequest")


class _StaffReturnView(APIView):
    permission_classes = [StaffWithPerms]
    required_perms = RETURN_PERMS

    def answer(self, request, number: str) -> Response:
        return Response(ReturnSerializer(return_get(user=request.user, number=number)).data)


@extend_schema(tags=["returns (staff)"])
class ReturnApproveView(_StaffReturnView):
    @extend_schema(request=ReturnNoteInputSerializer, responses=ReturnSerializer)
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        data = validate_input(ReturnNoteInputSerializer, request.data or {})
        return_approve(rr=rr, actor=request.user, note=data["note"])
        return self.answer(request, number)


@extend_schema(tags=["returns (staff)"])
class ReturnRejectView(_StaffReturnView):
    @extend_schema(request=ReturnRejectInputSerializer, responses=ReturnSerializer)
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        data = validate_input(ReturnRejectInputSerializer, request.data or {})
        return_reject(rr=rr, actor=request.user, reason=data["reason"])
        return self.answer(request, number)


@extend_schema(tags=["returns (staff)"])
class ReturnSchedulePickupView(_StaffReturnView):
    @extend_schema(
        request=ReturnPickupInputSerializer,
        responses=ReturnSerializer,
        description="From `approved` (or again from `pickup_scheduled` to reschedule).",
    )
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        data = validate_input(ReturnPickupInputSerializer, request.data or {})
        return_schedule_pickup(rr=rr, actor=request.user, **data)
        return self.answer(request, number)


@extend_schema(tags=["returns (staff)"])
class ReturnInTransitView(_StaffReturnView):
    @extend_schema(
        request=ReturnNoteInputSerializer,
        responses=ReturnSerializer,
        description="Extension: the parcel is on its way (from `approved` or `pickup_scheduled`).",
    )
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        data = validate_input(ReturnNoteInputSerializer, request.data or {})
        return_mark_in_transit(rr=rr, actor=request.user, note=data["note"])
        return self.answer(request, number)


@extend_schema(tags=["returns (staff)"])
class ReturnReceiveView(_StaffReturnView):
    @extend_schema(
        request=ReturnReceiveInputSerializer,
        responses=ReturnSerializer,
        description="From `pickup_scheduled` or `in_transit`. Resellable units go back on "
        "hand where they shipped from; damaged ones are received and written off. A "
        "replacement return gets its replacement order (→ `processed`), or keeps "
        "`replacement_error` REPLACEMENT_OUT_OF_STOCK and stays `received`.",
    )
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        data = validate_input(
            ReturnReceiveInputSerializer,
            request.data,
            message=RECEIVE_FAILED,
            codes=RETURN_INPUT_CODES,
        )
        items = [ReceivedItemInput(i["sku"], i["quantity"], i["condition"]) for i in data["items"]]
        return_receive(rr=rr, items=items, actor=request.user)
        return self.answer(request, number)


@extend_schema(tags=["returns (staff)"])
class ReturnRefundView(_StaffReturnView):
    required_perms = (*RETURN_PERMS, "payments.add_refund")

    @extend_schema(
        request=None,
        responses=ReturnSerializer,
        description="From `received` or `processed`: the return is processed and a worker "
        "issues its refund (never above what is left of the capture); it ends `refunded`.",
    )
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        return_request_refund(rr=rr, actor=request.user)
        return self.answer(request, number)


@extend_schema(tags=["returns (staff)"])
class ReturnReplaceView(_StaffReturnView):
    @extend_schema(
        request=None,
        responses=ReturnSerializer,
        description="Extension: retry the replacement order of a received exchange that "
        "was out of stock. Still short: 400 with REPLACEMENT_OUT_OF_STOCK.",
    )
    def post(self, request, number: str):
        rr = return_get(user=request.user, number=number)
        return_replace(rr=rr, actor=request.user)
        return self.answer(request, number)
