"""Products as customers see them in a market, and product creation by staff.
Lives in orders because prices are per market and markets are ours."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from core.errors import ValidationFailed, detail
from core.permissions import ReadAnyoneWriteStaff
from core.validation import validate_input
from inventory.selectors import product_list
from inventory.serializers import ProductCreateInput, ProductSerializer
from inventory.services import product_create

from ..models import Market


@extend_schema_view(get=extend_schema(auth=[{"tokenAuth": []}, {"cookieAuth": []}, {}]))
@extend_schema(
    tags=["catalog"],
    parameters=[
        OpenApiParameter(
            "market", OpenApiTypes.STR, description="Market code: price and availability there"
        ),
        OpenApiParameter("search", OpenApiTypes.STR, description="Part of the name or SKU"),
    ],
)
class ProductListCreateView(ListAPIView):
    permission_classes = [ReadAnyoneWriteStaff]
    required_perms = {"POST": ("inventory.add_product",)}
    serializer_class = ProductSerializer

    def _market(self) -> Market | None:
        code = self.request.query_params.get("market")
        if not code:
            return None
        market = Market.objects.filter(code=code.upper(), active=True).first()
        if market is None:
            raise ValidationFailed(
                details=[detail("market", "MARKET_NOT_FOUND", f"No market {code!r}.")]
            )
        return market

    def get_queryset(self):
        market = self._market()
        return product_list(
            market_code=market.code if market else None,
            search=self.request.query_params.get("search", "")[:100],
        )

    def get_serializer_context(self):
        market = self._market()
        return {**super().get_serializer_context(), "currency": market.currency if market else None}

    @extend_schema(request=ProductCreateInput, responses={201: ProductSerializer})
    def post(self, request):
        data = validate_input(
            ProductCreateInput, request.data, message="The product could not be created."
        )
        prices = {code.upper(): amount for code, amount in data["prices"].items()}
        known = set(Market.objects.filter(code__in=prices).values_list("code", flat=True))
        unknown = sorted(set(prices) - known)
        if unknown:
            raise ValidationFailed(
                details=[
                    detail(f"prices.{c}", "MARKET_NOT_FOUND", f"No market {c!r}.") for c in unknown
                ]
            )
        product = product_create(
            sku=data["sku"],
            name=data["name"],
            prices=prices,
            active=data["active"],
            actor=request.user,
        )
        created = product_list(include_inactive=True).get(pk=product.pk)
        return Response(ProductSerializer(created).data, status=status.HTTP_201_CREATED)
