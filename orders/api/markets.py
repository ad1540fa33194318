from drf_spectacular.utils import extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny

from ..selectors import market_list
from ..serializers import MarketSerializer


@extend_schema(tags=["catalog"])
class MarketListView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = MarketSerializer

    def get_queryset(self):
        return market_list()
