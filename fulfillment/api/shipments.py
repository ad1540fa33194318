"""Staff fulfillment endpoints: create shipments for an order, then pack,
ship, deliver or cancel them. One view per operation; rules in services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.permissions import StaffWithPerms
from core.validation import validate_input

from ..models import Shipment
from ..selectors import order_get_for_fulfillment, order_shipments, shipment_get
from ..serializers import (
    SHIPMENT_INPUT_CODES,
    ShipmentCancelInputSerializer,
    ShipmentCreateInputSerializer,
    ShipmentSerializer,
    ShipmentShipInputSerializer,
)
from ..services import (
    ShipmentItemInput,
    shipment_cancel,
    shipment_create,
    shipment_deliver,
    shipment_pack,
    shipment_ship,
)

VIEW = "fulfillment.view_shipment"
ADD = "fulfillment.add_shipment"
CHANGE = "fulfillment.change_shipment"


def _output(shipment: Shipment) -> dict:
    # Re-read: the service (and an eager worker after commit) may have moved it on.
    return ShipmentSerializer(shipment_get(number=shipment.number)).data


@extend_schema(tags=["fulfillment"])
class OrderShipmentsView(ListAPIView):
    permission_classes = [StaffWithPerms]
    required_perms = {"GET": (VIEW,), "POST": (ADD,)}
    serializer_class = ShipmentSerializer
    queryset = Shipment.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return order_shipments(order=order_get_for_fulfillment(number=self.kwargs["number"]))

    @extend_schema(
        request=ShipmentCreateInputSerializer,
        responses={201: ShipmentSerializer},
        description="Create a pending shipment (partial allowed) from one warehouse. Only for "
        "confirmed, processing or partially shipped orders (else 409); the first moves a "
        "confirmed order to processing. Detail codes: ITEMS_REQUIRED, UNKNOWN_ITEM, "
        "DUPLICATE_ITEM, INVALID_QUANTITY, OVER_SHIPMENT (more than ordered, counting every "
        "shipment not cancelled), WAREHOUSE_NOT_FOUND, NOT_RESERVED_IN_WAREHOUSE.",
    )
    def post(self, request, number: str):
        order = order_get_for_fulfillment(number=number)
        data = validate_input(
            ShipmentCreateInputSerializer,
            request.data,
            message="The shipment could not be created.",
            codes=SHIPMENT_INPUT_CODES,
        )
        shipment = shipment_create(
            order=order,
            items=[ShipmentItemInput(i["sku"], i["quantity"]) for i in data["items"]],
            warehouse_code=data["warehouse"] or None,
            actor=request.user,
        )
        return Response(_output(shipment), status=status.HTTP_201_CREATED)


@extend_schema(tags=["fulfillment"])
class ShipmentDetailView(APIView):
    permission_classes = [StaffWithPerms]
    required_perms = (VIEW,)

    @extend_schema(responses=ShipmentSerializer)
    def get(self, request, number: str):
        return Response(ShipmentSerializer(shipment_get(number=number)).data)


class _ShipmentActionView(APIView):
    permission_classes = [StaffWithPerms]
    required_perms = (CHANGE,)


@extend_schema(tags=["fulfillment"])
class ShipmentPackView(_ShipmentActionView):
    @extend_schema(
        request=None,
        responses=ShipmentSerializer,
        description="pending → packed (409 otherwise).",
    )
    def post(self, request, number: str):
        shipment = shipment_pack(shipment=shipment_get(number=number), actor=request.user)
        return Response(_output(shipment))


@extend_schema(tags=["fulfillment"])
class ShipmentShipView(_ShipmentActionView):
    @extend_schema(
        request=ShipmentShipInputSerializer,
        responses=ShipmentSerializer,
        description="pending or packed → shipped with the carrier's tracking number. A worker "
        "then moves the stock, updates the order, notifies the customer and captures the "
        "payment for what shipped. Detail codes: CARRIER_NOT_FOUND, TRACKING_NUMBER_TAKEN.",
    )
    def post(self, request, number: str):
        shipment = shipment_get(number=number)
        data = validate_input(
            ShipmentShipInputSerializer, request.data, message="The shipment could not be shipped."
        )
        shipment = shipment_ship(
            shipment=shipment,
            carrier=data["carrier"],
            tracking_number=data["tracking_number"],
            actor=request.user,
        )
        return Response(_output(shipment))


@extend_schema(tags=["fulfillment"])
class ShipmentDeliverView(_ShipmentActionView):
    @extend_schema(
        request=None,
        responses=ShipmentSerializer,
        description="shipped, in transit or exception → delivered. The order's last shipment "
        "delivers the order (cash on delivery is then collected).",
    )
    def post(self, request, number: str):
        shipment = shipment_deliver(shipment=shipment_get(number=number), actor=request.user)
        return Response(_output(shipment))


@extend_schema(tags=["fulfillment"])
class ShipmentCancelView(_ShipmentActionView):
    @extend_schema(
        request=ShipmentCancelInputSerializer,
        responses=ShipmentSerializer,
        description="pending or packed → cancelled; its units may go into another shipment.",
    )
    def post(self, request, number: str):
        shipment = shipment_get(number=number)
        data = validate_input(ShipmentCancelInputSerializer, request.data or {})
        shipment = shipment_cancel(shipment=shipment, actor=request.user, reason=data["reason"])
        return Response(_output(shipment))
