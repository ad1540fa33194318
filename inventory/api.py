"""Staff stock endpoints: warehouses, stock levels, adjustments."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed, detail
from core.permissions import StaffWithPerms
from core.validation import validate_input

from .models import Product, Warehouse
from .selectors import stock_list, warehouse_list
from .serializers import (
    AdjustmentInput,
    AdjustmentOutput,
    StockLevelSerializer,
    WarehouseSerializer,
)
from .services import stock_adjust

ADJUSTMENT_REFUSED = "The stock adjustment was refused."


@extend_schema(tags=["inventory"])
class WarehouseListView(ListAPIView):
    permission_classes = [StaffWithPerms]
    required_perms = ("inventory.view_warehouse",)
    serializer_class = WarehouseSerializer

    def get_queryset(self):
        return warehouse_list()


@extend_schema(
    tags=["inventory"],
    parameters=[OpenApiParameter("sku", OpenApiTypes.STR, description="Only this SKU")],
)
class StockListView(ListAPIView):
    permission_classes = [StaffWithPerms]
    required_perms = ("inventory.view_stocklevel",)
    serializer_class = StockLevelSerializer

    def get_queryset(self):
        return stock_list(sku=self.request.query_params.get("sku", ""))


@extend_schema(tags=["inventory"])
class AdjustmentCreateView(APIView):
    permission_classes = [StaffWithPerms]
    required_perms = ("inventory.change_stocklevel", "inventory.add_stockmovement")

    @extend_schema(request=AdjustmentInput, responses={201: AdjustmentOutput})
    def post(self, request):
        data = validate_input(AdjustmentInput, request.data, message=ADJUSTMENT_REFUSED)
        # Unknown references in the body are bad input (400), not a missing URL (404).
        product = Product.objects.filter(sku=data["sku"]).first()
        warehouse = Warehouse.objects.filter(code=data["warehouse"]).first()
        missing = []
        if product is None:
            missing.append(detail("sku", "PRODUCT_NOT_FOUND", f"No product {data['sku']}."))
        if warehouse is None:
            missing.append(
                detail("warehouse", "WAREHOUSE_NOT_FOUND", f"No warehouse {data['warehouse']}.")
            )
        if missing:
            raise ValidationFailed(ADJUSTMENT_REFUSED, details=missing)
        level, movement = stock_adjust(
            product=product,
            warehouse=warehouse,
            quantity=data["quantity"],
            actor=request.user,
            reason=data["reason"],
        )
        body = {
            "sku": product.sku,
            "warehouse": warehouse.code,
            "quantity": movement.on_hand_delta,
            "reason": movement.reason,
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "available": level.available,
            "created_at": movement.created_at,
        }
        return Response(AdjustmentOutput(body).data, status=status.HTTP_201_CREATED)
