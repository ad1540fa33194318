"""Catalog and stock. `inventory` imports no other app: markets are referred
to by code, and reservations point at order lines by string reference."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class ProductPrice(models.Model):
    """A product is sold in a market only if it has a price there."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    market_code = models.CharField(max_length=8)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "market_code"], name="uniq_price_per_market"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} {self.market_code} {self.amount}"


class Warehouse(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2)
    priority = models.PositiveIntegerField(default=100, help_text="Lower ships first.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return self.code


class WarehouseMarket(models.Model):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="markets")
    market_code = models.CharField(max_length=8)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "market_code"], name="uniq_warehouse_market"
            )
        ]

    def __str__(self) -> str:
        return f"{self.warehouse.code} → {self.market_code}"


class StockLevel(models.Model):
    # Indexed by uniq_stock_level (product, warehouse).
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="stock_levels", db_index=False
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock_levels")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    bin_location = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product__sku", "warehouse__priority"]
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="uniq_stock_level"),
            # The database itself refuses overselling, whatever the code above it does.
            models.CheckConstraint(condition=Q(reserved__gte=0), name="reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(on_hand__gte=F("reserved")), name="reserved_within_on_hand"
            ),
        ]

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def __str__(self) -> str:
        return f"{self.product.sku}@{self.warehouse.code}: {self.on_hand}/{self.reserved}"


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADJUSTMENT = "adjustment", "Adjustment"
    RESERVATION = "reservation", "Reservation"
    RELEASE = "release", "Release"
    SALE = "sale", "Sale (shipped)"
    RETURN = "return", "Return restocked"
    WRITE_OFF = "write_off", "Write-off"


class AppendOnlyError(Exception):
    pass


class StockMovement(models.Model):
    """Append-only ledger: summing the deltas per stock level gives on_hand and
    reserved, which is what `reconcile_stock` checks."""

    # Indexed by the (product, warehouse) index.
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="movements", db_index=False
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=64, blank=True, help_text="e.g. the order number")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["product", "warehouse"])]

    @property
    def quantity(self) -> int:
        return self.on_hand_delta or self.reserved_delta

    def save(self, *args, **kwargs):
        # A ledger that can be rewritten proves nothing.
        if self.pk is not None:
            raise AppendOnlyError("Stock movements are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Stock movements are append-only.")

    def __str__(self) -> str:
        return f"{self.kind} {self.product_id}@{self.warehouse_id} {self.on_hand_delta}/{self.reserved_delta}"


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMMITTED = "committed", "Committed (order confirmed)"
    RELEASED = "released", "Released"
    FULFILLED = "fulfilled", "Fulfilled (shipped)"


class Reservation(models.Model):
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="reservations"
    )
    stock_level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="reservations"
    )
    quantity = models.PositiveIntegerField()
    quantity_fulfilled = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16,
        choices=ReservationStatus.choices,
        default=ReservationStatus.ACTIVE,
        db_index=True,
    )
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_positive"),
            models.CheckConstraint(
                condition=Q(quantity_fulfilled__lte=F("quantity")),
                name="reservation_fulfilled_le_quantity",
            ),
        ]

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.quantity_fulfilled

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.order_line_id} ({self.status})"


# --- Replenishment: suppliers, reorder points and purchase orders ------------------------


class Supplier(models.Model):
    name = models.CharField(max_length=200, unique=True)
    email = models.EmailField(blank=True)
    lead_time_days = models.PositiveIntegerField(default=7)
    active = models.BooleanField(default=True, help_text="Inactive suppliers get no new drafts.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReorderPoint(models.Model):
    """When the units available in the warehouse fall to `reorder_level` or
    below, the daily stock check reports the product and drafts a purchase
    order for `reorder_quantity` from the supplier."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="reorder_points")
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.CASCADE, related_name="reorder_points"
    )
    reorder_level = models.PositiveIntegerField()
    reorder_quantity = models.PositiveIntegerField()
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="reorder_points")

    class Meta:
        ordering = ["product__sku", "warehouse__code"]
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="uniq_reorder_point"),
            models.CheckConstraint(
                condition=Q(reorder_quantity__gt=0), name="reorder_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku}@{self.warehouse.code} ≤ {self.reorder_level}"


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ORDERED = "ordered", "Ordered"
    PARTIALLY_RECEIVED = "partially_received", "Partially received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


# Goods on a purchase order in these states are still to come.
OPEN_PURCHASE_ORDER_STATUSES = [
    PurchaseOrderStatus.DRAFT,
    PurchaseOrderStatus.ORDERED,
    PurchaseOrderStatus.PARTIALLY_RECEIVED,
]


class PurchaseOrder(ConcurrentTransitionMixin, models.Model):
    """Goods ordered from a supplier for one warehouse. Transitions set state
    and timestamps only; `inventory.replenishment` locks, saves and moves stock."""

    number = models.CharField(max_length=20, unique=True, null=True, editable=False)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="purchase_orders"
    )
    status = FSMField(
        default=PurchaseOrderStatus.DRAFT,
        choices=PurchaseOrderStatus.choices,
        protected=True,
        max_length=24,
        db_index=True,
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number or f"purchase order #{self.pk}"

    @transition(field=status, source=PurchaseOrderStatus.DRAFT, target=PurchaseOrderStatus.ORDERED)
    def mark_ordered(self, *, at) -> None:
        self.ordered_at = at

    @transition(
        field=status,
        source=[PurchaseOrderStatus.ORDERED, PurchaseOrderStatus.PARTIALLY_RECEIVED],
        target=RETURN_VALUE(PurchaseOrderStatus.PARTIALLY_RECEIVED, PurchaseOrderStatus.RECEIVED),
    )
    def receive(self, *, complete: bool, at) -> str:
        """Some units arrived; `complete` once every line is received in full."""
        if complete:
            self.received_at = at
            return PurchaseOrderStatus.RECEIVED
        return PurchaseOrderStatus.PARTIALLY_RECEIVED

    @transition(
        field=status,
        source=[PurchaseOrderStatus.DRAFT, PurchaseOrderStatus.ORDERED],
        target=PurchaseOrderStatus.CANCELLED,
    )
    def cancel(self, *, reason: str, at) -> None:
        self.cancel_reason = reason[:255]
        self.cancelled_at = at


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="purchase_order_lines"
    )
    quantity_ordered = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    quantity_received = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order", "product"], name="uniq_purchase_order_product"
            ),
            models.CheckConstraint(
                condition=Q(quantity_ordered__gt=0), name="po_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity_ordered")),
                name="po_line_received_le_ordered",
            ),
        ]

    @property
    def quantity_remaining(self) -> int:
        return self.quantity_ordered - self.quantity_received

    def __str__(self) -> str:
        return f"{self.quantity_ordered} × {self.product_id}"
