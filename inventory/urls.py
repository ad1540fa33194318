from django.urls import path

from .api import AdjustmentCreateView, StockListView, WarehouseListView

urlpatterns = [
    path("inventory/warehouses/", WarehouseListView.as_view(), name="warehouse-list"),
    path("inventory/stock/", StockListView.as_view(), name="stock-list"),
    path("inventory/adjustments/", AdjustmentCreateView.as_view(), name="stock-adjust"),
]
