from __future__ import annotations

from rest_framework import serializers

from core.fields import StrictIntegerField

from .models import StockLevel, Warehouse

MONEY = {"max_digits": 12, "decimal_places": 2}


class ProductSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    active = serializers.BooleanField()
    price = serializers.DecimalField(**MONEY, source="market_price", allow_null=True, default=None)
    currency = serializers.SerializerMethodField()
    available = serializers.IntegerField()
    prices = serializers.SerializerMethodField()

    def get_currency(self, product) -> str | None:
        return self.context.get("currency")

    def get_prices(self, product) -> dict[str, str]:
        return {p.market_code: f"{p.amount:.2f}" for p in product.prices.all()}


class ProductCreateInput(serializers.Serializer):
    sku = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)
    name = serializers.CharField(max_length=200)
    prices = serializers.DictField(
        child=serializers.DecimalField(**MONEY, min_value=0), allow_empty=True
    )
    active = serializers.BooleanField(default=True)

    def validate_prices(self, prices: dict) -> dict:
        bad = [
            code
            for code in prices
            if not (code.isascii() and code.isalpha() and 2 <= len(code) <= 8)
        ]
        if bad:
            raise serializers.ValidationError(
                "Market codes are 2 to 8 letters.", code="market_not_found"
            )
        return prices


class WarehouseSerializer(serializers.ModelSerializer):
    markets = serializers.SerializerMethodField()

    class Meta:
        model = Warehouse
        fields = ["code", "name", "country", "priority", "active", "markets"]

    def get_markets(self, warehouse) -> list[str]:
        return sorted(m.market_code for m in warehouse.markets.all())


class StockLevelSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    available = serializers.IntegerField()

    class Meta:
        model = StockLevel
        fields = ["sku", "warehouse", "on_hand", "reserved", "available", "bin_location"]


class AdjustmentInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    warehouse = serializers.CharField(max_length=32)
    quantity = StrictIntegerField(min_value=-1_000_000, max_value=1_000_000)
    reason = serializers.CharField(max_length=255)


class AdjustmentOutput(serializers.Serializer):
    sku = serializers.CharField()
    warehouse = serializers.CharField()
    quantity = serializers.IntegerField()
    reason = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    created_at = serializers.DateTimeField()
