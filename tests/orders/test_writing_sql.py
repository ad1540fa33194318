"""core.sql.write_together: the one-statement writes on the placing path are
held equal to the ORM's own (bulk_create, bulk_update, save), row for row."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from core.changes import changed_fields, field_values
from core.sql import next_ids, write_together
from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from orders.models import Order, OrderEvent, OrderLine, PromoRedemption
from orders.services.placing import order_place
from orders.services.writing import OrderItemInput
from payments.models import Payment
from tests.orders.support import US_ADDRESS, assert_ledger_agrees

pytestmark = pytest.mark.django_db

# Columns that differ between any two writes of the same content.
VOLATILE = {"id", "number", "uid", "created_at", "updated_at", "at", "expires_at", "order",
            "order_line", "reference", "next_attempt_at"}  # fmt: skip


def _rows(queryset) -> list[dict]:
    return [
        {k: v for k, v in model_to_dict(row, fields=None).items() if k not in VOLATILE}
        | {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields
           if f.attname not in VOLATILE and not f.attname.endswith("_id")}
        for row in queryset.order_by("pk")
    ]  # fmt: skip


def _written(order: Order) -> dict:
    order = Order.objects.get(pk=order.pk)
    lines = OrderLine.objects.filter(order=order)
    return {
        "order": _rows(Order.objects.filter(pk=order.pk)),
        "number": order.number == f"US-{order.pk:06d}",
        "lines": _rows(lines),
        "reservations": _rows(Reservation.objects.filter(order_line__in=lines)),
        "movements": _rows(StockMovement.objects.filter(reference=order.number)),
        "payment": _rows(Payment.objects.filter(order=order)),
        "events": _rows(OrderEvent.objects.filter(order=order)),
        "redemptions": _rows(PromoRedemption.objects.filter(order=order)),
    }


def _place(shop, customer, *, promo: str = "") -> Order:
    return order_place(
        customer=customer,
        market_code="US",
        items=[OrderItemInput("TSHIRT-RED-M", 2), OrderItemInput("HOODIE-GREY-M", 1)],
        shipping_method="standard",
        shipping_address=US_ADDRESS,
        payment_method="card",
        payment_token="tok_visa",
        promo_code=promo,
    )


@pytest.mark.parametrize("promo", ["", "WELCOME10"])
def test_a_placed_order_is_written_as_the_orm_writes_it(shop, customer, monkeypatch, promo):
    together = _place(shop, customer, promo=promo)
    monkeypatch.setattr("core.sql._batched", lambda: False)  # the ORM path (SQLite's)
    one_by_one = _place(shop, customer, promo=promo)
    assert together.number == f"US-{together.pk:06d}"
    first, second = _written(together), _written(one_by_one)
    assert first["lines"] and first["reservations"] and first["movements"] and first["payment"]
    assert bool(first["redemptions"]) == bool(promo)
    assert first == second
    assert_ledger_agrees()


def test_the_placing_write_is_one_statement(shop, customer):
    with CaptureQueriesContext(connection) as captured:
        _place(shop, customer)
    writes = [q["sql"] for q in captured if q["sql"].split()[0] in ("INSERT", "UPDATE", "WITH")]
    assert len(writes) == 1, writes


def test_updates_and_inserts_match_bulk_update_and_bulk_create(shop, monkeypatch):
    level = StockLevel.objects.get(product=shop.tshirt, warehouse=shop.us_wh)

    def write(reserved: int) -> StockMovement:
        level.reserved = reserved
        movement = StockMovement(
            product=shop.tshirt,
            warehouse=shop.us_wh,
            kind=MovementKind.ADJUSTMENT,
            reserved_delta=1,
            reason="test",
        )
        write_together(updates=[([level], ["reserved", "updated_at"])], inserts=[[movement]])
        return movement

    stamped = level.updated_at
    together = write(7)
    assert together.pk is not None and not together._state.adding
    level.refresh_from_db()
    assert level.reserved == 7 and level.updated_at > stamped
    monkeypatch.setattr("core.sql._batched", lambda: False)
    one_by_one = write(8)
    level.refresh_from_db()
    assert level.reserved == 8
    rows = _rows(StockMovement.objects.filter(pk__in=[together.pk, one_by_one.pk]))
    assert rows[0] == rows[1]


def test_next_ids_come_from_the_sequence(shop, customer):
    [[order_id], line_ids] = next_ids((Order, 1), (OrderLine, 3))
    assert len(set(line_ids)) == 3
    later = _place(shop, customer)
    assert later.pk > order_id
    assert min(line.pk for line in later.lines.all()) > max(line_ids)


def test_expressions_are_refused(shop):
    from django.db.models import F

    level = StockLevel.objects.get(product=shop.tshirt, warehouse=shop.us_wh)
    level.reserved = F("reserved") + 1
    with pytest.raises(TypeError, match="reserved"):
        write_together(updates=[([level], ["reserved"])])


def test_only_the_changed_columns_are_written(shop, customer):
    order = _place(shop, customer)
    before = field_values(order)
    stamped = order.updated_at
    # A column this change does not touch, written meanwhile: it must survive.
    Order.objects.filter(pk=order.pk).update(cancel_reason="set elsewhere")
    order.risk_score = 7
    changed = changed_fields(order, before)
    assert changed == ["risk_score", "updated_at"]
    write_together(updates=[([order], changed)])
    order.refresh_from_db()
    assert (order.risk_score, order.cancel_reason) == (7, "set elsewhere")
    assert order.updated_at > stamped
    assert changed_fields(order, field_values(order)) == []


def test_values_json_has_no_type_for_are_written_exactly(shop, customer, monkeypatch):
    """Each table's rows travel as one JSON document: exact decimals, times to
    the microsecond in any zone, addresses, and text and JSON that need
    escaping must arrive as the ORM's own UPDATE writes them."""
    tricky = {
        "shipping_address": {**US_ADDRESS, "name": 'Zoë "Q" \\ \u00e9 😀', "note": None},
        "risk_reasons": ["a", {"nested": [1, 2.5, True, "ü"]}],
        "client_ip": "2001:db8::1",
        "user_agent": 'naïve\ttab 😀 \\ "',
        "discount": Decimal("1.50"),
        "confirmed_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=ZoneInfo("Asia/Kolkata")),
    }
    written = []
    for batched in (True, False):
        monkeypatch.setattr("core.sql._batched", lambda batched=batched: batched)
        order = _place(shop, customer)
        for name, value in tricky.items():
            setattr(order, name, value)
        write_together(updates=[([order], list(tricky))])
        written.append(Order.objects.values(*tricky).get(pk=order.pk))
    assert written[0] == written[1] == tricky
    assert str(written[0]["discount"]) == "1.50"
