"""Markets, promo codes, orders and their audit trail."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import RETURN_VALUE, FSMField, FSMModelMixin, transition

ZERO = Decimal("0.00")


class Market(models.Model):
    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, help_text="ISO 4217")
    country = models.CharField(max_length=2, help_text="ISO 3166 country the market ships to")
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4, help_text="0.0800 for 8%")
    prices_include_tax = models.BooleanField(default=False)
    payment_methods = models.JSONField(default=list, help_text='e.g. ["card", "upi", "cod"]')
    cod_limit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    review_amount = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Orders above this total always go to review."
    )
    cod_review_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="COD orders above this add risk.",
    )
    return_window_days = models.PositiveIntegerField(default=30)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ShippingMethod(models.Model):
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="shipping_methods")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    free_over = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["market__code", "price"]
        constraints = [
            models.UniqueConstraint(fields=["market", "code"], name="uniq_shipping_method")
        ]

    def __str__(self) -> str:
        return f"{self.market.code}:{self.code}"


class PromoKind(models.TextChoices):
    PERCENT = "percent", "Percent off"
    FIXED = "fixed", "Fixed amount off"


class PromoCode(models.Model):
    code = models.CharField(max_length=32, unique=True, help_text="Stored upper-case.")
    kind = models.CharField(max_length=8, choices=PromoKind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    market = models.ForeignKey(
        Market,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="Limit to one market (required for fixed amounts: they are in its currency).",
    )
    min_subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    max_uses_per_customer = models.PositiveIntegerField(null=True, blank=True)
    times_used = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="promo_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100), name="promo_percent_le_100"
            ),
            models.CheckConstraint(
                condition=~Q(kind="fixed") | Q(market__isnull=False),
                name="promo_fixed_needs_market",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold (review)"
    CONFIRMED = "confirmed", "Confirmed"
    PROCESSING = "processing", "Processing"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    PARTIALLY_RETURNED = "partially_returned", "Partially returned"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"


class OrderSource(models.TextChoices):
    API = "api", "API"
    ADMIN = "admin", "Admin"
    CHANNEL = "channel", "Marketplace channel"


S = OrderStatus
CANCELLABLE = [S.PENDING, S.ON_HOLD, S.CONFIRMED, S.PROCESSING]
SHIPPABLE = [S.CONFIRMED, S.PROCESSING, S.PARTIALLY_SHIPPED]
RETURNABLE = [S.DELIVERED, S.PARTIALLY_RETURNED]


class Order(FSMModelMixin, models.Model):
    number = models.CharField(max_length=20, unique=True, null=True, editable=False)
    # customer, market, status and payment_status are each indexed by the
    # composite index that leads with them (Meta.indexes): an index on the
    # column alone would only add work to every insert and transition.
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    currency = models.CharField(max_length=3)
    status = FSMField(default=S.PENDING, choices=S.choices, protected=True)

    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    shipping = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4)
    prices_include_tax = models.BooleanField()
    tax_exempt = models.BooleanField(default=False)

    promo = models.ForeignKey(
        PromoCode, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    promo_code = models.CharField(max_length=32, blank=True)
    shipping_method = models.CharField(max_length=32)
    shipping_address = models.JSONField()
    items_fingerprint = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        editable=False,
        help_text="Digest of the shipping address and the lines (SKU, quantity): how the "
        "duplicate-order risk rule finds its candidates.",
    )
    payment_method = models.CharField(max_length=16)
    payment_status = models.CharField(max_length=24, default="pending")

    source = models.CharField(max_length=16, choices=OrderSource.choices, default=OrderSource.API)
    channel = models.CharField(max_length=32, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    risk_score = models.PositiveIntegerField(null=True, blank=True)
    risk_reasons = models.JSONField(default=list, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    held_at = models.DateTimeField(null=True, blank=True, db_index=True)
    shipped_at = models.DateTimeField(null=True, blank=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claimed_orders",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    hold_resume_status = models.CharField(
        max_length=24,
        blank=True,
        choices=[(S.CONFIRMED, S.CONFIRMED.label), (S.PROCESSING, S.PROCESSING.label)],
        help_text="Where a hold placed after confirmation returns the order when its last "
        "hold is released (empty: held at confirmation, released by approving).",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"]),
            # The admin list and staff API filter by these and show newest first.
            models.Index(fields=["status", "-created_at"], name="order_status_created_idx"),
            models.Index(fields=["market", "-created_at"], name="order_market_created_idx"),
            models.Index(fields=["source", "-created_at"], name="order_source_created_idx"),
            models.Index(
                fields=["payment_status", "-created_at"], name="order_paystatus_created_idx"
            ),
            # The dashboard's stuck orders: confirmed (or processing) and nothing shipped.
            models.Index(
                fields=["confirmed_at"],
                condition=Q(status__in=[S.CONFIRMED, S.PROCESSING], shipped_at__isnull=True),
                name="order_unshipped_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(discount__lte=models.F("subtotal")), name="discount_le_subtotal"
            ),
        ]
        permissions = [("review_order", "Can approve or reject orders held for review")]

    def __str__(self) -> str:
        return self.number or f"order#{self.pk}"

    # Transitions set state and timestamps only; services save, audit and enqueue.
    @transition(field=status, source=CANCELLABLE, target=S.CANCELLED)
    def cancel(self, *, reason: str, at) -> None:
        self.cancel_reason = reason[:255]
        self.cancelled_at = at

    @transition(field=status, source=S.PENDING, target=S.CONFIRMED)
    def confirm(self, *, at) -> None:
        self.confirmed_at = at

    @transition(field=status, source=S.PENDING, target=S.ON_HOLD)
    def hold(self, *, at) -> None:
        self.held_at = at

    # Holds placed after confirmation (nothing shipped yet): the order returns to
    # where it was once its last hold is released.
    @transition(field=status, source=[S.CONFIRMED, S.PROCESSING], target=S.ON_HOLD)
    def hold_in_fulfillment(self, *, at) -> None:
        self.hold_resume_status = self.status
        self.held_at = at

    @transition(field=status, source=S.ON_HOLD, target=RETURN_VALUE(S.CONFIRMED, S.PROCESSING))
    def resume(self) -> str:
        resume_to, self.hold_resume_status = self.hold_resume_status, ""
        return resume_to

    @transition(field=status, source=S.PENDING, target=S.CANCELLED)
    def decline(self, *, reason: str, at) -> None:
        self.cancel_reason = reason[:255]
        self.cancelled_at = at

    @transition(field=status, source=S.ON_HOLD, target=S.CONFIRMED)
    def approve(self, *, at) -> None:
        self.confirmed_at = at

    @transition(field=status, source=S.ON_HOLD, target=S.CANCELLED)
    def reject(self, *, reason: str, at) -> None:
        self.cancel_reason = reason[:255]
        self.cancelled_at = at

    # Fulfilment: a first shipment moves a confirmed order to processing; each
    # shipped shipment to partially_shipped or shipped; delivery of all to delivered.
    @transition(field=status, source=S.CONFIRMED, target=S.PROCESSING)
    def start_processing(self) -> None:
        pass

    @transition(field=status, source=SHIPPABLE, target=S.PARTIALLY_SHIPPED)
    def ship_partially(self, *, at) -> None:
        self.shipped_at = self.shipped_at or at

    @transition(field=status, source=SHIPPABLE, target=S.SHIPPED)
    def ship_fully(self, *, at) -> None:
        self.shipped_at = self.shipped_at or at

    @transition(field=status, source=S.SHIPPED, target=S.DELIVERED)
    def deliver(self, *, at) -> None:
        self.delivered_at = at

    # Returns: counted from delivery; several returns may add up to all of it.
    @transition(field=status, source=RETURNABLE, target=S.PARTIALLY_RETURNED)
    def return_partially(self) -> None:
        pass

    @transition(field=status, source=RETURNABLE, target=S.RETURNED)
    def return_fully(self) -> None:
        pass


class HoldReason(models.TextChoices):
    HIGH_RISK = "high_risk", "High risk"
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    ADDRESS_CHECK = "address_check", "Address check"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    AWAITING_RETURN = "awaiting_return", "Awaiting return"
    MANUAL = "manual", "Manual"


class Hold(models.Model):
    """One reason an order (or one of its shipments) may not move on. An order
    with any active order-level hold is on_hold; a shipment with an active hold
    cannot be packed or shipped. Released holds stay as history."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="holds")
    # Set for a shipment hold (the order is still set: its lock guards both).
    shipment = models.ForeignKey(
        "fulfillment.Shipment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="holds",
    )
    reason = models.CharField(max_length=24, choices=HoldReason.choices)
    note = models.TextField(blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: placed by the system (confirmation).",
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_note = models.TextField(blank=True)

    class Meta:
        ordering = ["placed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "reason"],
                condition=Q(released_at__isnull=True, shipment__isnull=True),
                name="uniq_active_order_hold_reason",
            ),
            models.UniqueConstraint(
                fields=["shipment", "reason"],
                condition=Q(released_at__isnull=True, shipment__isnull=False),
                name="uniq_active_shipment_hold_reason",
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True) | Q(released_at__gte=models.F("placed_at")),
                name="hold_released_after_placed",
            ),
        ]
        indexes = [
            # The review console groups active holds by reason.
            models.Index(
                fields=["reason", "placed_at"],
                condition=Q(released_at__isnull=True),
                name="hold_active_reason_idx",
            ),
        ]

    def __str__(self) -> str:
        target = f"shipment#{self.shipment_id}" if self.shipment_id else f"order#{self.order_id}"
        return f"{self.reason} on {target}"

    @property
    def active(self) -> bool:
        return self.released_at is None


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "inventory.Product", on_delete=models.PROTECT, related_name="order_lines"
    )
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)
    quantity_shipped = models.PositiveIntegerField(default=0)
    quantity_returned = models.PositiveIntegerField(default=0)
    # Units taken off the order before shipping (a refund line with restock
    # "cancel"): no longer to ship, their reservation released.
    quantity_cancelled = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_quantity_positive"),
            models.CheckConstraint(
                condition=Q(
                    quantity_cancelled__lte=models.F("quantity") - models.F("quantity_shipped")
                ),
                name="line_cancelled_le_unshipped",
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=models.F("quantity")),
                name="line_shipped_le_quantity",
            ),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=models.F("quantity_shipped")),
                name="line_returned_le_shipped",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class OrderEvent(models.Model):
    """The audit trail: every status change (and notable non-status event)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Username, or 'system' for workers.")
    reason = models.TextField(blank=True)
    customer_reason = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="What the customer reads instead of the reason (empty: the reason itself).",
    )
    staff_only = models.BooleanField(
        default=False,
        db_default=False,  # old processes inserting during a rolling deploy still work
        help_text="Internal (staff notes, ops bookkeeping): left out of the customer's history.",
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status} → {self.to_status}"


class OrderEditStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMMITTED = "committed", "Committed"
    DISCARDED = "discarded", "Discarded"


class OrderEdit(models.Model):
    """A staged change to an order's lines and shipping address, previewed
    before it is committed (orders.services.editing). At most one is open per
    order; `order_version` (the order's updated_at at begin) makes a commit
    after any other change to the order stale."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="edits")
    status = models.CharField(
        max_length=12, choices=OrderEditStatus.choices, default=OrderEditStatus.OPEN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order_version = models.DateTimeField(help_text="The order's updated_at when the edit began.")
    lines = models.JSONField(default=dict, help_text="Staged {sku: quantity}.")
    shipping_address = models.JSONField(help_text="Staged shipping address.")
    diff = models.JSONField(null=True, blank=True, help_text="What the commit changed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    discarded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="open"),
                name="uniq_open_order_edit",
            ),
        ]

    def __str__(self) -> str:
        return f"edit #{self.pk} of order#{self.order_id} ({self.status})"


class PromoRedemption(models.Model):
    promo = models.ForeignKey(PromoCode, on_delete=models.CASCADE, related_name="redemptions")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="promo_redemption")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["promo", "customer"])]


class IdempotencyRecord(models.Model):
    """One per (customer, Idempotency-Key). Written in the same transaction as
    the order, so a replay and a race both see exactly one order."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "key"], name="uniq_idempotency_key")
        ]


class CustomerProfile(models.Model):
    """What ops know about a customer beyond the login: tax exemption and trust."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    tax_exempt = models.BooleanField(default=False)
    trusted = models.BooleanField(
        default=False, help_text="Skips review below the trusted hard cap."
    )

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


# --- Marketplace order imports (orders/channels) ------------------------------------------


class ChannelOrderStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # transient: only inside the import's transaction
    IMPORTED = "imported", "Imported"
    HELD = "held", "Held (can be replayed)"
    FAILED = "failed", "Failed (unreadable)"


_RETRYABLE = [ChannelOrderStatus.RECEIVED, ChannelOrderStatus.HELD, ChannelOrderStatus.FAILED]


class ChannelOrder(FSMModelMixin, models.Model):
    """One marketplace order as delivered by a channel's webhook, imported at
    most once per (channel, external_id). Deliveries that cannot be keyed
    (unreadable JSON, no external id) are kept with a null external_id."""

    channel = models.CharField(max_length=32)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    status = FSMField(
        default=ChannelOrderStatus.RECEIVED,
        choices=ChannelOrderStatus.choices,
        protected=True,
        max_length=16,
        db_index=True,
    )
    reason = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Detail code of the last failure."
    )
    message = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="API.md error details.")
    raw_body = models.TextField(blank=True, help_text="The latest delivery's body, as signed.")
    raw_payload = models.JSONField(null=True, blank=True)
    order = models.OneToOneField(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="channel_import"
    )
    price_differences = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Not stored: set by the import service on the instance it returns.
    imported_now = False

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="uniq_channel_external_id"
            ),
            models.CheckConstraint(
                condition=~Q(status="imported") | Q(order__isnull=False),
                name="channel_order_imported_has_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.external_id or f'#{self.pk}'}"

    @transition(field=status, source=_RETRYABLE, target=ChannelOrderStatus.IMPORTED)
    def mark_imported(self, *, order: Order, price_differences: list[dict], at) -> None:
        self.order = order
        self.price_differences = price_differences
        self.reason = ""
        self.message = ""
        self.errors = []
        self.imported_at = at

    @transition(field=status, source=_RETRYABLE, target=ChannelOrderStatus.HELD)
    def hold(self, *, reason: str, message: str, errors: list[dict]) -> None:
        self.reason = reason[:64]
        self.message = message
        self.errors = errors

    @transition(field=status, source=_RETRYABLE, target=ChannelOrderStatus.FAILED)
    def fail(self, *, reason: str, message: str, errors: list[dict]) -> None:
        self.reason = reason[:64]
        self.message = message
        self.errors = errors
