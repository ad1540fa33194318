"""Stock in the admin: catalog editable, stock numbers read-only (they change
through services only, so the ledger always explains them)."""

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from core.admin_paging import LargeTableAdminMixin

from .models import (
    Product,
    ProductPrice,
    Reservation,
    StockLevel,
    StockMovement,
    Warehouse,
    WarehouseMarket,
)


class ProductPriceInline(admin.TabularInline):
    model = ProductPrice
    extra = 0


class StockLevelInline(admin.TabularInline):
    model = StockLevel
    extra = 0
    fields = ["warehouse", "on_hand", "reserved", "bin_location"]
    readonly_fields = ["warehouse", "on_hand", "reserved"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "active", "updated_at"]
    list_filter = ["active"]
    search_fields = ["sku", "name"]
    inlines = [ProductPriceInline, StockLevelInline]


class WarehouseMarketInline(admin.TabularInline):
    model = WarehouseMarket
    extra = 0


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "priority", "active"]
    list_filter = ["active", "country"]
    search_fields = ["code", "name"]
    inlines = [WarehouseMarketInline]


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ["product", "warehouse", "on_hand", "reserved", "available", "bin_location"]
    list_filter = ["warehouse"]
    search_fields = ["product__sku", "product__name", "bin_location"]
    readonly_fields = ["product", "warehouse", "on_hand", "reserved"]
    list_select_related = ["product", "warehouse"]

    def has_add_permission(self, request):
        return False  # stock levels appear through adjustments (API) so the ledger records them


@admin.register(StockMovement)
class StockMovementAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "product",
        "warehouse",
        "on_hand_delta",
        "reserved_delta",
        "actor",
        "reference",
    ]
    list_filter = ["kind", "warehouse"]
    search_fields = ["product__sku", "reference", "reason"]
    list_select_related = ["product", "warehouse", "actor"]
    date_hierarchy = "created_at"


@admin.register(Reservation)
class ReservationAdmin(LargeTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "order_line",
        "stock_level",
        "quantity",
        "quantity_fulfilled",
        "status",
        "expires_at",
    ]
    list_filter = ["status"]
    search_fields = ["order_line__order__number", "stock_level__product__sku"]
    readonly_fields = [
        "order_line",
        "stock_level",
        "quantity",
        "quantity_fulfilled",
        "status",
        "expires_at",
    ]
    list_select_related = ["order_line", "stock_level__product", "stock_level__warehouse"]

    def has_add_permission(self, request):
        return False


from . import admin_replenishment  # noqa: E402, F401  (registers the replenishment admin)
