"""Marketplace order import: a channel's order becomes an Orderly order once.

`channel_order_import` keys every delivery by (channel, external_id) and works
under that row's lock (inserted with ON CONFLICT DO NOTHING, then locked), so
redeliveries and racing deliveries of one external id place one order.

An order that cannot be placed now (unknown market or SKU, no stock...) is kept
`held` with the API.md detail code as its reason; a redelivery or a replay from
the admin (`channel_order_replay`) tries again, with the latest readable
delivery. A payload that cannot be read is kept `failed`: on its external id's
row when it has a usable one (so a corrected redelivery imports it), unless that
row is held with a readable delivery, which it must not replace; otherwise as
a row of its own with no external id. Nothing is lost, nothing imported twice.

Placing reuses the internals of `orders.services.placing` (market, products,
item checks, `order_write`: the same order, lines, stock reservation, payment
row, audit event and confirmation as `order_place`), with two differences:

* prices and totals are the channel's: the lines carry the channel's unit
  prices and the order its subtotal/shipping/total; where they differ from what
  `order_place` would have charged, `price_differences` lists them and an
  OrderEvent notes them;
* payment: no card is charged. The payment is a `manual` (cash-like) one.
  `paid: true` (the channel collected the money): the order's `payment_method`
  is "channel" and the payment is captured in full right after the import
  commits. `paid: false` (marketplace cash on delivery): `payment_method` "cod",
  collected on delivery like any COD order.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import DomainError, NotFound, TransitionNotAllowed, ValidationFailed, detail
from core.exceptions import flatten_serializer_errors
from core.parsers import loads_bounded
from core.validation import remap_codes
from inventory.errors import InsufficientStock
from operations.services import error_record, error_resolve_on_success
from payments.gateways.base import GatewayError
from payments.models import PaymentStatus
from payments.services import payment_capture

from ..models import (
    ChannelOrder,
    ChannelOrderStatus,
    CustomerProfile,
    Market,
    Order,
    OrderSource,
    OrderStatus,
    ShippingMethod,
)
from ..services.events import order_event_record
from ..services.payment_status import order_sync_payment_status
from ..services.pricing import ZERO, Totals, compute_totals, money
from ..services.writing import (
    NewLine,
    NewPayment,
    OrderItemInput,
    customer_is_tax_exempt,
    items_check,
    market_get,
    order_enqueue_confirmation,
    order_write,
    products_by_sku,
    shipping_method_get,
    stock_shortage_failure,
)
from .serializers import PAYLOAD_CODES, ChannelOrderPayloadSerializer

logger = logging.getLogger(__name__)

PAID_METHOD = "channel"  # Order.payment_method when the channel collected the money
UNPAID_METHOD = "cod"  # marketplace cash on delivery
IMPORT_FAILED = "The channel order could not be imported."
READ_FAILED = "The channel order could not be read."
VALIDATION_FAILED = "VALIDATION_FAILED"


class _Unreadable:
    """The body was not JSON (or JSON that cannot be stored)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def parse_body(raw_body: str) -> object:
    """The JSON value of a delivery's body, or an `_Unreadable` marker."""
    try:
        payload = loads_bounded(raw_body, parse_constant=_refuse_constant)
        has_nul = "\\u0000" in json.dumps(payload)  # PostgreSQL's jsonb cannot hold NUL
    except ValueError as exc:
        return _Unreadable(f"The body is not valid JSON: {exc}"[:500])
    if has_nul:
        return _Unreadable("The body contains NUL characters.")
    return payload


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _storable_text(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def _external_id_of(payload: object) -> str | None:
    """The external id exactly as the payload serializer would read it, or None."""
    if not isinstance(payload, dict):
        return None
    value = payload.get("external_id")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    value = str(value).strip()
    return value if 0 < len(value) <= 100 else None


def _validate(payload: object) -> tuple[dict | None, list[dict]]:
    if isinstance(payload, _Unreadable):
        return None, [detail(None, "MALFORMED_JSON", payload.reason)]
    if not isinstance(payload, dict):
        return None, [detail(None, "INVALID", "Expected a JSON object.")]
    serializer = ChannelOrderPayloadSerializer(data=payload)
    if not serializer.is_valid():
        details = flatten_serializer_errors(serializer.errors)
        return None, remap_codes(details, PAYLOAD_CODES)
    return serializer.validated_data, []


# --- the import --------------------------------------------------------------------------------


def channel_order_import(*, channel: str, payload: object, raw_body: str) -> ChannelOrder:
    """Import one delivery of a channel order (`payload` is the parsed body, as
    returned by `parse_body`). Returns its ChannelOrder: `imported` (with
    `imported_now` True when this call placed the order), `held` or `failed`.
    Raises only on infrastructure trouble (then nothing was written)."""
    raw_body = _storable_text(raw_body)
    external_id = _external_id_of(payload)
    if external_id is None:
        return _record_unkeyed(channel=channel, payload=payload, raw_body=raw_body)
    with transaction.atomic():
        row = _lock_row(channel=channel, external_id=external_id)
        if row.status == ChannelOrderStatus.IMPORTED:
            # Imported before: change nothing, but finish a payment step that a
            # crash after the import's commit may have left undone.
            transaction.on_commit(partial(_settle_payment, row.order_id))
        elif row.status == ChannelOrderStatus.HELD and _validate(payload)[1]:
            # A broken redelivery must not replace the readable one held for
            # replay: it is kept beside it, unkeyed.
            return _record_unkeyed(channel=channel, payload=payload, raw_body=raw_body)
        else:
            # New, or held/failed before: try (again) with what the channel sends now.
            row.raw_body = raw_body
            row.raw_payload = None if isinstance(payload, _Unreadable) else payload
            _attempt(row, payload, actor=None)
    return row


def channel_order_replay(*, channel_order_id: int, actor) -> ChannelOrder:
    """Staff retry of a held or failed import, from its stored body. An imported
    one is returned unchanged (imported once, never twice)."""
    with transaction.atomic():
        row = ChannelOrder.objects.select_for_update().filter(pk=channel_order_id).first()
        if row is None:
            raise NotFound("No such channel order.")
        if row.status == ChannelOrderStatus.IMPORTED:
            transaction.on_commit(partial(_settle_payment, row.order_id))
            return row
        if row.external_id is None:
            raise TransitionNotAllowed(
                f"Channel order #{row.pk} carries no usable external id, so it cannot be "
                "imported; ask the channel to send it again."
            )
        _attempt(row, parse_body(row.raw_body), actor=actor)
    return row


def _lock_row(*, channel: str, external_id: str) -> ChannelOrder:
    """The (channel, external_id) row, created if new, locked for this
    transaction. A racing delivery waits here until the first one commits."""
    ChannelOrder.objects.bulk_create(
        [ChannelOrder(channel=channel, external_id=external_id)], ignore_conflicts=True
    )
    return ChannelOrder.objects.select_for_update().get(channel=channel, external_id=external_id)


def _record_unkeyed(*, channel: str, payload: object, raw_body: str) -> ChannelOrder:
    """Keep an unreadable delivery as a `failed` row with no external id (so it
    can neither block nor be taken for the real import of that id)."""
    _, errors = _validate(payload)
    if not errors:  # cannot happen: the serializer needs the same external id
        errors = [detail("external_id", "REQUIRED", "An external id is required.")]
    row = ChannelOrder(
        channel=channel,
        raw_body=raw_body,
        raw_payload=None if isinstance(payload, _Unreadable) else payload,
        attempts=1,
        last_attempt_at=timezone.now(),
    )
    row.fail(reason=VALIDATION_FAILED, message=_summary(errors), errors=errors)
    row.save()
    return row


def _attempt(row: ChannelOrder, payload: object, *, actor) -> None:
    """Inside the row's lock: validate and place, then record the outcome."""
    now = timezone.now()
    row.attempts += 1
    row.last_attempt_at = now
    data, errors = _validate(payload)
    if errors:
        row.fail(reason=VALIDATION_FAILED, message=_summary(errors), errors=errors)
    else:
        try:
            with transaction.atomic():  # a savepoint: a refusal undoes only the order
                order, differences = _place(
                    channel=row.channel, external_id=row.external_id, data=data, actor=actor
                )
        except DomainError as exc:
            details = exc.details or [detail(None, exc.code, exc.message)]
            row.hold(reason=details[0]["code"], message=_summary(details), errors=details)
        else:
            row.mark_imported(order=order, price_differences=differences, at=now)
            row.imported_now = True
    row.save()
    _record_outcome(row)


def _record_outcome(row: ChannelOrder) -> None:
    """Failed and held imports are processing errors until an import succeeds."""
    reference = f"{row.channel}:{row.external_id}"
    if row.status == "imported":
        error_resolve_on_success(step="channel_import", reference=reference)
        return
    error_record(
        category="inventory" if row.reason == "INSUFFICIENT_STOCK" else "import_validation",
        severity="warning" if row.status == "held" else "error",
        step="channel_import",
        reference=reference,
        message=row.message[:1000] or row.reason,
        details={"reason": row.reason, "status": row.status},
    )


def _summary(details: list[dict]) -> str:
    return "; ".join(
        f"{d['field']}: {d['message']}" if d.get("field") else d["message"] for d in details
    )


# --- placing the order -------------------------------------------------------------------------


def _place(*, channel: str, external_id: str, data: dict, actor) -> tuple[Order, list[dict]]:
    """Write the order through `order_write`. Raises ValidationFailed (detail
    codes as for POST /orders/) when it cannot be placed now."""
    market = market_get(data["market"])
    lines = _merge_lines(data["items"])
    items = [OrderItemInput(sku=sku, quantity=qty) for sku, (qty, _) in lines.items()]
    products = products_by_sku(list(lines), market)
    details = items_check(items, products)
    method = _shipping_method(market, data["shipping_method"])
    if method is None:
        details.append(
            detail(
                "shipping_method",
                "SHIPPING_METHOD_NOT_FOUND",
                f"No shipping method {data['shipping_method'] or '(any)'} in {market.code}.",
            )
        )
    if details:
        raise ValidationFailed(IMPORT_FAILED, details=details)

    customer = _buyer_customer(channel=channel, buyer=data["buyer"])
    tax_exempt = customer_is_tax_exempt(customer)
    ours = {sku: products[sku].market_price for sku in lines}
    our_totals = compute_totals(
        lines=[(ours[sku], qty) for sku, (qty, _) in lines.items()],
        tax_rate=market.tax_rate,
        prices_include_tax=market.prices_include_tax,
        shipping_price=method.price,
        free_over=method.free_over,
        tax_exempt=tax_exempt,
    )
    totals = _channel_totals(data, market=market, lines=lines)
    differences = _differences(lines=lines, ours=ours, theirs=totals, our_totals=our_totals)
    # Each line is frozen at the channel's price.
    new_lines = [
        NewLine(product=products[sku], quantity=qty, unit_price=price, line_total=price * qty)
        for sku, (qty, price) in lines.items()
    ]

    paid = data["paid"]
    # Registered before the confirmation is queued, so that on commit the
    # payment is settled first and the worker finds it so (and a rollback of
    # this savepoint drops both).
    written: dict[str, int] = {}
    transaction.on_commit(lambda: written and _settle_payment(written["order_id"]))
    try:
        order = order_write(
            customer=customer,
            market=market,
            lines=new_lines,
            totals=totals,
            tax_exempt=tax_exempt,
            fields={
                "shipping_method": method.code,
                "shipping_address": data["shipping_address"],
                # "cod" gives a manual (cash-like) payment: nothing for a gateway to
                # authorize, and capturable as collected. See PAID_METHOD below.
                "payment_method": UNPAID_METHOD,
                "source": OrderSource.CHANNEL,
                "channel": channel,
                "client_ip": None,
                "user_agent": "",
            },
            actor=actor,
            reservation_expires_at=timezone.now()
            + timedelta(minutes=settings.RESERVATION_TTL_MINUTES),
            payment=NewPayment(),
        )
    except InsufficientStock as exc:
        raise stock_shortage_failure(exc, new_lines) from exc
    order_enqueue_confirmation(order)
    written["order_id"] = order.pk
    if paid:
        Order.objects.filter(pk=order.pk).update(payment_method=PAID_METHOD)
        order.payment_method = PAID_METHOD
    how = "paid on the channel" if paid else "cash on delivery"
    order_event_record(
        order=order,
        from_status=OrderStatus.PENDING,
        to_status=OrderStatus.PENDING,
        actor=actor,
        reason=f"imported from {channel} order {external_id} ({how})",
    )
    if differences:
        order_event_record(
            order=order,
            from_status=OrderStatus.PENDING,
            to_status=OrderStatus.PENDING,
            actor=actor,
            staff_only=True,  # our prices are for staff, not the channel's buyer
            reason="channel prices differ from ours: "
            + "; ".join(
                f"{d['field']}{' ' + d['sku'] if 'sku' in d else ''} "
                f"{d['channel']} (ours {d['ours']})"
                for d in differences
            ),
        )
    return order, differences


def _merge_lines(items: list[dict]) -> dict[str, tuple[int, Decimal]]:
    """sku → (quantity, unit price). Channels may send one line per unit; the
    serializer has refused one SKU at two prices."""
    lines: dict[str, tuple[int, Decimal]] = {}
    for item in items:
        qty, _ = lines.get(item["sku"], (0, item["unit_price"]))
        lines[item["sku"]] = (qty + item["quantity"], item["unit_price"])
    return lines


def _shipping_method(market: Market, code: str) -> ShippingMethod | None:
    if code:
        return shipping_method_get(market, code)
    return ShippingMethod.objects.filter(market=market, active=True).order_by("price", "pk").first()


def _channel_totals(data: dict, *, market: Market, lines: dict) -> Totals:
    subtotal = money(sum((price * qty for qty, price in lines.values()), ZERO))
    discount, shipping, total = data["discount"], data["shipping"], data["total"]
    net = subtotal - discount
    if data["tax"] is not None:
        tax = data["tax"]
    elif market.prices_include_tax:
        tax = money(net * market.tax_rate / (1 + market.tax_rate))
    else:  # whatever the channel added on top of goods and shipping
        tax = max(total - net - shipping, ZERO)
    return Totals(subtotal, discount, shipping, tax, total)


def _differences(*, lines: dict, ours: dict, theirs: Totals, our_totals: Totals) -> list[dict]:
    out: list[dict] = []
    for i, (sku, (_, price)) in enumerate(lines.items()):
        if price != ours[sku]:
            out.append(
                {
                    "field": f"items[{i}].unit_price",
                    "sku": sku,
                    "channel": str(money(price)),
                    "ours": str(money(ours[sku])),
                }
            )
    for name in ("subtotal", "discount", "shipping", "tax", "total"):
        channel_amount, our_amount = getattr(theirs, name), getattr(our_totals, name)
        if channel_amount != our_amount:
            out.append(
                {
                    "field": name,
                    "channel": str(money(channel_amount)),
                    "ours": str(money(our_amount)),
                }
            )
    return out


def _buyer_customer(*, channel: str, buyer: dict):
    """The customer account of a channel buyer: one per (channel, email), with no
    usable password (the buyer never logs in here) and a CustomerProfile. Not
    merged with a same-email account of our own shop: an email in a channel's
    payload proves nothing about who owns that account."""
    user_model = get_user_model()
    email = buyer["email"].strip().lower()
    username = f"{channel}:{email}"[:150]
    user = user_model.objects.filter(username=username).first()
    if user is None:
        first, _, last = (buyer.get("name") or "").strip().partition(" ")
        candidate = user_model(
            username=username, email=email, first_name=first[:150], last_name=last.strip()[:150]
        )
        candidate.set_unusable_password()
        try:
            with transaction.atomic():
                candidate.save()
            user = candidate
        except IntegrityError:  # the same buyer's other order got there first
            user = user_model.objects.get(username=username)
    CustomerProfile.objects.get_or_create(user=user)
    return user


# --- payment, after commit ---------------------------------------------------------------------


def _settle_payment(order_id: int) -> None:
    """Once the import has committed, before its confirmation is queued (and again
    on every later delivery or replay, which heals a crash in between): a paid
    channel order's payment is captured in full, once (fixed idempotency key),
    and the order's payment_status mirrors it. Never raises: the import stands,
    and the next delivery or replay settles it."""
    try:
        order = Order.objects.select_related("payment").get(pk=order_id)
        payment = getattr(order, "payment", None)
        if payment is None or order.payment_method != PAID_METHOD:
            return
        if (
            payment.status == PaymentStatus.PENDING
            and order.status != OrderStatus.CANCELLED
            and payment.amount > 0
        ):
            payment = payment_capture(
                payment_id=payment.pk,
                amount=payment.amount,
                actor=None,
                idempotency_key=f"channel-paid-{order.number}",
            )
        if order.payment_status != payment.status:
            order_sync_payment_status(order_id=order.pk)
    except (DomainError, GatewayError):
        logger.exception("could not record the channel payment of order %s", order_id)
