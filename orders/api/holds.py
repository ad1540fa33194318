"""Holds on an order or on one of its shipments: list, place, release (staff).
A customer asking about someone else's order or shipment gets 404 like
everywhere else; about their own, 403."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from core.permissions import StaffWithPerms
from core.validation import validate_input

from ..models import Hold, HoldReason, Order
from ..selectors import order_get, order_list
from ..services.holds import hold_place, hold_release

# DRF's generic codes → the detail codes documented for holds.
HOLD_INPUT_CODES = {"reason:*": "INVALID_HOLD_REASON", "note:*": "INVALID_NOTE"}
_STAFF = StaffWithPerms()


class HoldPlaceInput(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=HoldReason.choices,
        help_text="Detail code INVALID_HOLD_REASON when missing or not one of these.",
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class HoldReleaseInput(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class HoldSerializer(serializers.ModelSerializer):
    shipment = serializers.CharField(
        source="shipment.number",
        allow_null=True,
        default=None,
        help_text="The held shipment's number; null for a hold on the whole order.",
    )
    placed_by = serializers.CharField(
        source="placed_by.username", allow_null=True, default=None, help_text="Null: the system."
    )
    released_by = serializers.CharField(
        source="released_by.username", allow_null=True, default=None
    )
    active = serializers.BooleanField(help_text="Not released yet.")

    class Meta:
        model = Hold
        fields = [
            "id",
            "reason",
            "note",
            "shipment",
            "active",
            "placed_by",
            "placed_at",
            "released_by",
            "released_at",
            "release_note",
        ]


class HoldListOutput(serializers.Serializer):
    results = HoldSerializer(many=True, help_text="Active holds first, then released ones.")


class _HoldsView(APIView):
    """Shared plumbing: find the target within what the caller may see (404),
    then require staff permissions (403)."""

    permission_classes = [IsAuthenticated]
    required_perms = {
        "GET": ("orders.view_order",),
        "POST": ("orders.view_order", "orders.review_order"),
    }

    def check_staff(self, request) -> None:
        if not _STAFF.has_permission(request, self):
            self.permission_denied(request, message=_STAFF.message)

    def holds_response(self, holds) -> Response:
        holds = sorted(
            holds.select_related("shipment", "placed_by", "released_by"),
            key=lambda h: (not h.active, h.placed_at, h.pk),
        )
        return Response({"results": HoldSerializer(holds, many=True).data})

    def place(self, request, **target) -> Response:
        """Validate the body and hold `target` (order= or shipment=): 201 with the hold."""
        data = validate_input(
            HoldPlaceInput,
            request.data or {},
            message="The hold could not be placed.",
            codes=HOLD_INPUT_CODES,
        )
        hold = hold_place(**target, reason=data["reason"], note=data["note"], actor=request.user)
        return Response(HoldSerializer(hold).data, status=201)


def _order(request, number: str) -> Order:
    return order_get(user=request.user, number=number)


def _shipment(request, number: str):
    order = order_list(user=request.user).filter(shipments__number=number).first()
    if order is None:
        raise NotFound(f"No shipment {number}.")
    return order.shipments.get(number=number)


def _hold_of(holds, hold_id: int) -> Hold:
    hold = holds.filter(pk=hold_id).first()
    if hold is None:
        raise NotFound(f"No hold {hold_id} here.")
    return hold


@extend_schema(tags=["holds"])
class OrderHoldsView(_HoldsView):
    @extend_schema(
        summary="The order's holds (staff)",
        description="Whole-order holds and its shipments' holds, active first.",
        responses=HoldListOutput,
    )
    def get(self, request, number: str):
        order = _order(request, number)
        self.check_staff(request)
        return self.holds_response(order.holds.all())

    @extend_schema(
        summary="Hold the order (staff)",
        description="Allowed while on hold, or confirmed/processing with nothing shipped (the "
        "order goes on_hold and returns there once every hold is released). 409 "
        "TRANSITION_NOT_ALLOWED with detail HOLD_ALREADY_ACTIVE when the reason is already "
        "active; 400 VALIDATION_FAILED with INVALID_HOLD_REASON for an unknown reason.",
        request=HoldPlaceInput,
        responses={201: HoldSerializer},
    )
    def post(self, request, number: str):
        order = _order(request, number)
        self.check_staff(request)
        return self.place(request, order=order)


@extend_schema(tags=["holds"])
class OrderHoldReleaseView(_HoldsView):
    @extend_schema(
        summary="Release one of the order's holds (staff)",
        description="Releasing the last whole-order hold moves the order on: back to confirmed "
        "or processing, or (held at confirmation) approved with stock committed. 409 "
        "TRANSITION_NOT_ALLOWED when the hold was already released.",
        request=HoldReleaseInput,
        responses=HoldSerializer,
    )
    def post(self, request, number: str, hold_id: int):
        order = _order(request, number)
        self.check_staff(request)
        hold = _hold_of(order.holds.filter(shipment__isnull=True), hold_id)
        data = validate_input(HoldReleaseInput, request.data or {}, codes=HOLD_INPUT_CODES)
        hold = hold_release(hold_id=hold.pk, actor=request.user, note=data["note"])
        return Response(HoldSerializer(Hold.objects.get(pk=hold.pk)).data)


@extend_schema(tags=["holds"])
class ShipmentHoldsView(_HoldsView):
    @extend_schema(summary="The shipment's holds (staff)", responses=HoldListOutput)
    def get(self, request, number: str):
        shipment = _shipment(request, number)
        self.check_staff(request)
        return self.holds_response(Hold.objects.filter(shipment=shipment))

    @extend_schema(
        summary="Hold the shipment (staff)",
        description="A held shipment cannot be packed or shipped (409 TRANSITION_NOT_ALLOWED "
        "with detail SHIPMENT_ON_HOLD). Only pending or packed shipments can be held.",
        request=HoldPlaceInput,
        responses={201: HoldSerializer},
    )
    def post(self, request, number: str):
        shipment = _shipment(request, number)
        self.check_staff(request)
        return self.place(request, shipment=shipment)


@extend_schema(tags=["holds"])
class ShipmentHoldReleaseView(_HoldsView):
    @extend_schema(
        summary="Release one of the shipment's holds (staff)",
        request=HoldReleaseInput,
        responses=HoldSerializer,
    )
    def post(self, request, number: str, hold_id: int):
        shipment = _shipment(request, number)
        self.check_staff(request)
        hold = _hold_of(Hold.objects.filter(shipment=shipment), hold_id)
        data = validate_input(HoldReleaseInput, request.data or {}, codes=HOLD_INPUT_CODES)
        hold = hold_release(hold_id=hold.pk, actor=request.user, note=data["note"])
        return Response(HoldSerializer(Hold.objects.get(pk=hold.pk)).data)
