"""Order edits, staged then committed: lines, quantities and the shipping address
change on an OrderEdit, whose preview shows the recalculated totals; the commit
applies it to the order in one transaction under the order's lock (stock
re-reserved, the payment's amount settled, one audit row with the diff).

Who may edit: the customer on their own order while it is pending, on hold or
confirmed; staff with `orders.change_order` also while it is processing. Never
once a shipment exists or anything shipped (so an edit racing a shipment loses
cleanly at commit). A confirmed or processing order that an edit takes above
its market's review amount is held for review (high_risk), as at placing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from core.errors import DomainError, NotFound, TransitionNotAllowed, ValidationFailed, detail
from inventory.errors import InsufficientStock
from inventory.models import Product, ProductPrice, Reservation, ReservationStatus
from inventory.services import (
    ReserveRequest,
    reservations_forget,
    stock_commit,
    stock_release,
    stock_reserve,
)
from payments.services import payment_amount_change, payment_authorization_raise

from ..models import (
    HoldReason,
    Order,
    OrderEdit,
    OrderEditStatus,
    OrderLine,
    OrderStatus,
    ShippingMethod,
)
from .events import order_event_record
from .holds import hold_place
from .locking import order_lock
from .notify import order_notify
from .pricing import Totals, compute_totals
from .risk import order_fingerprint

S = OrderStatus
CUSTOMER_EDITABLE = (S.PENDING, S.ON_HOLD, S.CONFIRMED)
STAFF_EDITABLE = (*CUSTOMER_EDITABLE, S.PROCESSING)
MAX_LINES = 50
MAX_QUANTITY = 100
EDIT_FAILED = "The order edit was rejected."


@dataclass(frozen=True)
class StagedLine:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    product_id: int
    existing: OrderLine | None  # the order's line for this SKU, if it has one


@dataclass(frozen=True)
class EditPreview:
    lines: list[StagedLine]
    totals: Totals


class EditNotAllowed(DomainError):
    code = "PERMISSION_DENIED"
    http_status = 403
    default_message = "Only the customer or staff who may change orders can edit it."


def _conflict(code: str, message: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(message, details=[detail(None, code, message)])


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(EDIT_FAILED, details=[detail(field, code, message)])


def _is_editing_staff(actor) -> bool:
    return bool(getattr(actor, "is_staff", False) and actor.has_perm("orders.change_order"))


def _check_allowed(order: Order, actor) -> None:
    """The caller found the order (404 otherwise); may they edit it?"""
    if order.customer_id != getattr(actor, "pk", None) and not _is_editing_staff(actor):
        raise EditNotAllowed()


def _check_editable(order: Order, actor) -> None:
    allowed = STAFF_EDITABLE if _is_editing_staff(actor) else CUSTOMER_EDITABLE
    if order.status not in allowed:
        raise _conflict("ORDER_NOT_EDITABLE", f"Order {order.number} is {order.status}.")
    shipped = order.lines.filter(quantity_shipped__gt=0).exists()
    if shipped or order.shipments.exclude(status="cancelled").exists():
        raise _conflict("ORDER_NOT_EDITABLE", f"Order {order.number} has a shipment.")
    # Units already cancelled by a refund (orders.services.restocking) are settled
    # money: the order is past editing.
    if order.lines.filter(quantity_cancelled__gt=0).exists():
        raise _conflict("ORDER_NOT_EDITABLE", f"Order {order.number} was partly refunded.")


def order_edit_get(*, order: Order, edit_id: int) -> OrderEdit:
    edit = OrderEdit.objects.filter(order=order, pk=edit_id).first()
    if edit is None:
        raise NotFound(f"No edit {edit_id} of order {order.number}.")
    return edit


def _lock_open_edit(edit: OrderEdit) -> OrderEdit:
    edit = OrderEdit.objects.select_for_update().get(pk=edit.pk)
    if edit.status != OrderEditStatus.OPEN:
        raise _conflict("EDIT_CLOSED", f"This edit was already {edit.status}.")
    return edit


@transaction.atomic
def order_edit_begin(*, order: Order, actor) -> OrderEdit:
    """Stage an edit of the order as it is now; 409 EDIT_IN_PROGRESS when another
    edit is open."""
    _check_allowed(order, actor)
    order = order_lock(order.pk)
    _check_editable(order, actor)
    if order.edits.filter(status=OrderEditStatus.OPEN).exists():
        raise _conflict("EDIT_IN_PROGRESS", f"Order {order.number} already has an open edit.")
    try:
        with transaction.atomic():
            return OrderEdit.objects.create(
                order=order,
                created_by=actor if getattr(actor, "pk", None) else None,
                order_version=order.updated_at,
                lines={line.sku: line.quantity for line in order.lines.all()},
                shipping_address=order.shipping_address,
            )
    except IntegrityError:  # the partial unique index: a concurrent begin won
        raise _conflict(
            "EDIT_IN_PROGRESS", f"Order {order.number} already has an open edit."
        ) from None


@transaction.atomic
def order_edit_set_line(*, edit: OrderEdit, actor, sku: str, quantity: int) -> OrderEdit:
    """Stage `quantity` of `sku` (0 removes the line); validated as for placing."""
    _check_allowed(edit.order, actor)
    edit = _lock_open_edit(edit)
    if quantity < 0:
        raise _invalid("quantity", "INVALID_QUANTITY", "The quantity cannot be negative.")
    if quantity > MAX_QUANTITY:
        raise _invalid("quantity", "QUANTITY_LIMIT", f"At most {MAX_QUANTITY} of one SKU.")
    lines = dict(edit.lines)
    if quantity == 0:
        if sku not in lines:
            raise _invalid("sku", "PRODUCT_NOT_FOUND", f"{sku} is not on the order.")
        if len(lines) == 1:
            raise _invalid("sku", "ITEMS_REQUIRED", "An order needs at least one line.")
        del lines[sku]
    else:
        on_order = edit.order.lines.filter(sku=sku).exists()
        if sku not in lines and not on_order:
            _check_product(sku, edit.order.market.code)
        if sku not in lines and len(lines) >= MAX_LINES:
            raise _invalid("sku", "TOO_MANY_ITEMS", f"An order has at most {MAX_LINES} lines.")
        lines[sku] = quantity
    edit.lines = lines
    edit.save(update_fields=["lines", "updated_at"])
    return edit


def _check_product(sku: str, market_code: str) -> None:
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        raise _invalid("sku", "PRODUCT_NOT_FOUND", f"No product {sku}.")
    priced = ProductPrice.objects.filter(product=product, market_code=market_code).exists()
    if not product.active or not priced:
        raise _invalid("sku", "PRODUCT_UNAVAILABLE", f"{sku} is not sold in this market.")


@transaction.atomic
def order_edit_set_address(*, edit: OrderEdit, actor, shipping_address: dict) -> OrderEdit:
    """Stage a new shipping address, already checked by the address serializer
    placing uses (ADDRESS_INCOMPLETE, INVALID_PHONE)."""
    _check_allowed(edit.order, actor)
    edit = _lock_open_edit(edit)
    edit.shipping_address = dict(shipping_address)
    edit.save(update_fields=["shipping_address", "updated_at"])
    return edit


def order_edit_preview(*, edit: OrderEdit, order: Order | None = None) -> EditPreview:
    """The staged lines priced as the commit would: the order's frozen unit price
    for SKUs already on it, the market's current price for added ones; the order's
    promo, tax rate, tax exemption and shipping method's rules."""
    order = order or edit.order
    existing = {line.sku: line for line in order.lines.all()}
    added = [sku for sku in edit.lines if sku not in existing]
    prices = dict(
        ProductPrice.objects.filter(
            product__sku__in=added, market_code=order.market.code
        ).values_list("product__sku", "amount")
    )
    products = {p.sku: p for p in Product.objects.filter(sku__in=added, active=True)}
    staged = []
    for sku, quantity in edit.lines.items():
        line = existing.get(sku)
        if line is not None:
            staged.append(
                StagedLine(sku, line.name, quantity, line.unit_price, line.product_id, line)
            )
        elif sku in products and sku in prices:
            product = products[sku]
            staged.append(StagedLine(sku, product.name, quantity, prices[sku], product.pk, None))
        else:  # priced when staged, gone since
            raise _invalid("sku", "PRODUCT_UNAVAILABLE", f"{sku} is not sold in this market.")
    method = ShippingMethod.objects.filter(market=order.market, code=order.shipping_method).first()
    promo = order.promo
    totals = compute_totals(
        lines=[(line.unit_price, line.quantity) for line in staged],
        tax_rate=order.tax_rate,
        prices_include_tax=order.prices_include_tax,
        shipping_price=method.price if method else order.shipping,
        free_over=method.free_over if method else None,
        promo_kind=promo.kind if promo else None,
        promo_value=promo.value if promo else None,
        tax_exempt=order.tax_exempt,
    )
    return EditPreview(staged, totals)


@transaction.atomic
def order_edit_discard(*, edit: OrderEdit, actor) -> OrderEdit:
    _check_allowed(edit.order, actor)
    edit = _lock_open_edit(edit)
    edit.status = OrderEditStatus.DISCARDED
    edit.discarded_at = timezone.now()
    edit.save(update_fields=["status", "discarded_at", "updated_at"])
    return edit


def _totals_of(obj) -> dict[str, str]:
    return {
        name: str(getattr(obj, name))
        for name in ("subtotal", "discount", "shipping", "tax", "total")
    }


def order_edit_commit(*, edit: OrderEdit, actor) -> Order:
    """Apply the edit to the order, or refuse with nothing changed: 409
    EDIT_STALE (the order changed since the edit began), ORDER_NOT_EDITABLE (its
    status or a shipment forbids it now), EDIT_CLOSED, or the payment's codes
    (payments.services.payment_amount_change, payment_authorization_raise); 400
    INSUFFICIENT_STOCK or COD_NOT_AVAILABLE.

    A card authorization smaller than the new total is raised at the gateway
    first, outside the transaction (a gateway call never runs inside one). Should
    the commit then be refused, the larger hold lapses unused, as after a
    partial void: only the order's total is ever captured."""
    _raise_authorization_for(edit, actor)
    return _commit(edit=edit, actor=actor)


def _raise_authorization_for(edit: OrderEdit, actor) -> None:
    _check_allowed(edit.order, actor)
    order = Order.objects.select_related("market", "payment").get(pk=edit.order_id)
    payment = getattr(order, "payment", None)
    if edit.status != OrderEditStatus.OPEN or order.updated_at != edit.order_version:
        return  # refused by the commit itself
    if payment is None or payment.status != "authorized":
        return
    _check_editable(order, actor)
    total = order_edit_preview(edit=edit, order=order).totals.total
    if total > payment.amount_authorized:
        payment_authorization_raise(
            payment_id=payment.pk,
            amount=total,
            idempotency_key=f"order-edit-{edit.pk}-{total}",
            actor=actor,
        )


@transaction.atomic
def _commit(*, edit: OrderEdit, actor) -> Order:
    _check_allowed(edit.order, actor)
    order = order_lock(edit.order_id)
    edit = _lock_open_edit(edit)
    _check_editable(order, actor)
    if order.updated_at != edit.order_version:
        raise _conflict("EDIT_STALE", f"Order {order.number} changed since this edit began.")
    preview = order_edit_preview(edit=edit, order=order)
    totals = preview.totals
    cod_limit = order.market.cod_limit
    if order.payment_method == "cod" and cod_limit is not None and totals.total > cod_limit:
        raise _invalid(
            "payment_method",
            "COD_NOT_AVAILABLE",
            f"Cash on delivery is limited to {cod_limit}; the new total is {totals.total}.",
        )

    before_lines = {line.sku: line.quantity for line in order.lines.all()}
    before_totals = _totals_of(order)
    staged = {line.sku: line for line in preview.lines}
    removed = [line for sku, line in _lines_by_sku(order).items() if sku not in staged]
    changed = [
        line
        for line in preview.lines
        if line.existing is not None and line.existing.quantity != line.quantity
    ]
    actor_row = actor if getattr(actor, "pk", None) else None
    reason = f"order edit #{edit.pk}"
    # Give back what the changed and removed lines hold, then reserve the new
    # quantities afresh: stock_reserve locks the levels in pk order and never oversells.
    expires_at = _reservation_expiry(order)
    stock_release(
        order_line_ids=[line.pk for line in removed] + [line.existing.pk for line in changed],
        actor=actor_row,
        reason=reason,
        reference=order.number,
    )
    if removed:
        reservations_forget(order_line_ids=[line.pk for line in removed])
        try:
            with transaction.atomic():
                OrderLine.objects.filter(pk__in=[line.pk for line in removed]).delete()
        except ProtectedError:  # e.g. on a cancelled shipment: its history must stay
            raise _conflict(
                "LINE_NOT_REMOVABLE",
                "A line to remove appears on a cancelled shipment or a return; "
                "keep it with a quantity of at least 1.",
            ) from None
    to_reserve: list[OrderLine] = []
    for line in changed:
        row = line.existing
        row.quantity = line.quantity
        row.line_total = line.unit_price * line.quantity
        row.save(update_fields=["quantity", "line_total"])
        to_reserve.append(row)
    for line in preview.lines:
        if line.existing is None:
            to_reserve.append(
                OrderLine.objects.create(
                    order=order,
                    product_id=line.product_id,
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    line_total=line.unit_price * line.quantity,
                )
            )
    if to_reserve:
        _reserve(order, to_reserve, expires_at=expires_at, actor=actor_row)

    address_changed = edit.shipping_address != order.shipping_address
    order.shipping_address = edit.shipping_address
    order.items_fingerprint = order_fingerprint(
        order.shipping_address, [(line.sku, line.quantity) for line in preview.lines]
    )
    for name, value in _totals_dict(totals).items():
        setattr(order, name, value)
    order.save()
    payment = getattr(order, "payment", None)
    if payment is not None:
        payment_amount_change(
            payment_id=payment.pk, amount=totals.total, actor=actor_row, reason=reason
        )

    diff = {
        "edit": edit.pk,
        "lines_before": before_lines,
        "lines_after": dict(edit.lines),
        "address_changed": address_changed,
        "totals_before": before_totals,
        "totals_after": _totals_of(order),
    }
    order_event_record(
        order=order,
        from_status=order.status,
        to_status=order.status,
        actor=actor,
        reason="order edited: " + json.dumps(diff, sort_keys=True),
        customer_reason="order edited",
    )
    edit.status = OrderEditStatus.COMMITTED
    edit.committed_at = timezone.now()
    edit.diff = diff
    edit.save(update_fields=["status", "committed_at", "diff", "updated_at"])
    # The customer (and integrators) hear what the order now holds and costs.
    order_notify(
        order=order,
        event="updated",
        extra={"previous_total": before_totals["total"]},
        dedupe_suffix=f"edit-{edit.pk}",
    )
    _hold_if_now_above_review(order, before_total=Decimal(before_totals["total"]))
    return Order.objects.select_related("market").get(pk=order.pk)


def _hold_if_now_above_review(order: Order, *, before_total: Decimal) -> None:
    """An order already past review (confirmed or processing) that an edit takes
    above the market's review amount goes back to a human, as placing it at that
    total would have (a pending one is scored by its confirmation anyway)."""
    review = order.market.review_amount
    if order.status in (S.CONFIRMED, S.PROCESSING) and before_total <= review < order.total:
        hold_place(
            order=order,
            reason=HoldReason.HIGH_RISK,
            note=f"order edit raised the total above the review amount {review}",
            actor=None,
        )


def _lines_by_sku(order: Order) -> dict[str, OrderLine]:
    return {line.sku: line for line in order.lines.all()}


def _totals_dict(totals: Totals) -> dict[str, Decimal]:
    return {
        "subtotal": totals.subtotal,
        "discount": totals.discount,
        "shipping": totals.shipping,
        "tax": totals.tax,
        "total": totals.total,
    }


def _reservation_expiry(order: Order):
    """A confirmed order's reservations do not expire; a pending one's keep the
    deadline they had (a fresh one for lines that had none)."""
    if order.status != S.PENDING:
        return None
    current = (
        Reservation.objects.filter(
            order_line__order=order, status=ReservationStatus.ACTIVE, expires_at__isnull=False
        )
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    return current or timezone.now() + timedelta(minutes=settings.RESERVATION_TTL_MINUTES)


def _reserve(order: Order, lines: list[OrderLine], *, expires_at, actor) -> None:
    try:
        stock_reserve(
            market_code=order.market.code,
            requests=[ReserveRequest(line.pk, line.product_id, line.quantity) for line in lines],
            expires_at=expires_at,
            actor=actor,
            reference=order.number,
        )
    except InsufficientStock as exc:
        raise ValidationFailed(
            EDIT_FAILED,
            details=[
                detail(
                    f"lines.{line.sku}",
                    "INSUFFICIENT_STOCK",
                    f"Only {exc.shortages[line.product_id]} left of {line.sku}.",
                )
                for line in lines
                if line.product_id in exc.shortages
            ],
        ) from exc
    if order.status != S.PENDING:
        stock_commit(order_line_ids=[line.pk for line in lines])
