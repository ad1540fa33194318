"""Staff analytics API: GET /api/v1/analytics/summary/?since=&until=."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed, detail
from core.permissions import StaffWithPerms
from orders.models import OrderStatus

from . import selectors
from .ranges import MAX_RANGE_DAYS, RangeError, resolve_range


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=18, decimal_places=2, coerce_to_string=True, **kwargs
    )


# One count per order status, named after the status (every status, 0 when none).
AnalyticsOrdersByStatus = type(
    "AnalyticsOrdersByStatus",
    (serializers.Serializer,),
    {status.value: serializers.IntegerField() for status in OrderStatus},
)


class AnalyticsHeldForReview(serializers.Serializer):
    count = serializers.IntegerField()
    oldest_minutes = serializers.IntegerField(
        allow_null=True, help_text="Minutes since the oldest held order was put on hold."
    )
    oldest_number = serializers.CharField(allow_null=True)


class AnalyticsStuckOrder(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    market = serializers.CharField()
    stuck_since = serializers.DateTimeField(
        help_text="Placed (pending orders) or confirmed (orders not shipped)."
    )
    minutes = serializers.IntegerField()


class AnalyticsStuckOrders(serializers.Serializer):
    count = serializers.IntegerField()
    pending_count = serializers.IntegerField()
    pending_after_minutes = serializers.IntegerField()
    unshipped_count = serializers.IntegerField()
    unshipped_after_hours = serializers.IntegerField()
    oldest = AnalyticsStuckOrder(many=True)


class AnalyticsMarketRevenue(serializers.Serializer):
    market = serializers.CharField()
    currency = serializers.CharField()
    orders = serializers.IntegerField()
    total = _money()


class AnalyticsLeadTime(serializers.Serializer):
    shipped_orders = serializers.IntegerField()
    median_hours = _money(allow_null=True)
    p90_hours = _money(allow_null=True)


class AnalyticsReturnRate(serializers.Serializer):
    returns = serializers.IntegerField()
    delivered_orders = serializers.IntegerField()
    rate_percent = _money(allow_null=True, help_text="null when nothing was delivered.")


class AnalyticsLowStockItem(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    warehouse = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    threshold = serializers.IntegerField(
        help_text="The reorder level, or LOW_STOCK_DEFAULT where the product has none there."
    )
    on_order = serializers.CharField(help_text="Open purchase order bringing more, or empty.")


class AnalyticsLowStock(serializers.Serializer):
    count = serializers.IntegerField()
    default_threshold = serializers.IntegerField()
    uses_reorder_points = serializers.BooleanField()
    items = AnalyticsLowStockItem(many=True)


class AnalyticsSummary(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Start of the range (inclusive).")
    until = serializers.DateTimeField(help_text="End of the range (exclusive).")
    as_of = serializers.DateTimeField(help_text="When current-state figures were read.")
    orders_total = serializers.IntegerField(help_text="Orders created in the range.")
    orders_by_status = AnalyticsOrdersByStatus(
        help_text="Orders created in the range, by current status."
    )
    revenue = AnalyticsMarketRevenue(
        many=True,
        help_text="Totals of the non-cancelled orders created in the range, per market.",
    )
    lead_time = AnalyticsLeadTime(
        help_text="Hours from confirmation to first shipment, orders first shipped in the range."
    )
    returns = AnalyticsReturnRate(
        help_text="Returns created in the range over orders delivered in the range."
    )
    held_for_review = AnalyticsHeldForReview(help_text="Current state, not limited to the range.")
    stuck_orders = AnalyticsStuckOrders(help_text="Current state, not limited to the range.")
    low_stock = AnalyticsLowStock(help_text="Current state, not limited to the range.")


RANGE_HELP = (
    "ISO 8601 date (a whole UTC day) or datetime (UTC when no offset is given). "
    "Both omitted: today (UTC). Ranges are [since, until); a date `until` includes that day. "
    f"At most {MAX_RANGE_DAYS} days."
)


@extend_schema(tags=["analytics (staff)"])
class AnalyticsSummaryView(APIView):
    permission_classes = [StaffWithPerms]
    required_perms = ("orders.view_order",)

    @extend_schema(
        operation_id="analytics_summary",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description=f"Range start. {RANGE_HELP}"),
            OpenApiParameter(
                "until",
                OpenApiTypes.STR,
                description="Range end; omitted: the end of today (UTC).",
            ),
        ],
        responses={200: AnalyticsSummary},
    )
    def get(self, request):
        try:
            period = resolve_range(
                request.query_params.get("since"), request.query_params.get("until")
            )
        except RangeError as exc:
            raise ValidationFailed(
                "The report range was rejected.", details=[detail(exc.field, exc.code, exc.message)]
            ) from None
        return Response(AnalyticsSummary(selectors.summary(period)).data)
