"""Purchase orders: drafting for low stock, the FSM, receiving into stock with a
ledger row per line, and the admin buttons that call the services."""

import re

import pytest
from django.db.models import Sum

from core.errors import TransitionNotAllowed, ValidationFailed
from inventory.models import (
    MovementKind,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderPoint,
    StockLevel,
    StockMovement,
    Supplier,
)
from inventory.reconciliation import stock_drift
from inventory.replenishment import (
    low_stock_list,
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_mark_ordered,
    purchase_order_receive,
    purchase_orders_draft_for_low_stock,
)
from tests.factories import StaffFactory, WarehouseFactory
from tests.orders.support import product


@pytest.fixture
def stock(db):
    east = WarehouseFactory(code="US-EAST")
    west = WarehouseFactory(code="US-WEST", priority=20)
    acme = Supplier.objects.create(name="Acme Textiles", email="sales@acme.test")
    mugs = Supplier.objects.create(name="Mug Co", lead_time_days=14)
    shirt = product("TSHIRT-RED-M", {"US": "19.99"}, {east: 3, west: 40})
    mug = product("MUG-BLUE", {"US": "12.50"}, {east: 5})
    cap = product("CAP-BLACK", {"US": "9.99"}, {east: 100})
    for item, warehouse, level, qty, supplier in [
        (shirt, east, 5, 50, acme),  # 3 ≤ 5: low
        (shirt, west, 5, 50, acme),  # 40: fine
        (mug, east, 5, 24, mugs),  # 5 ≤ 5: low (the level itself counts)
        (cap, east, 10, 30, acme),  # 100: fine
    ]:
        ReorderPoint.objects.create(
            product=item,
            warehouse=warehouse,
            reorder_level=level,
            reorder_quantity=qty,
            supplier=supplier,
        )
    return {"east": east, "west": west, "acme": acme, "mugs": mugs, "shirt": shirt, "mug": mug}


def lines_of(po: PurchaseOrder) -> dict[str, int]:
    return {line.product.sku: line.quantity_ordered for line in po.lines.select_related("product")}


def test_low_stock_list_uses_available_against_the_reorder_level(stock):
    StockLevel.objects.filter(product=stock["mug"]).update(reserved=1)  # 5 on hand, 4 available
    items = {(i.sku, i.warehouse): i for i in low_stock_list()}
    assert set(items) == {("TSHIRT-RED-M", "US-EAST"), ("MUG-BLUE", "US-EAST")}
    mug = items[("MUG-BLUE", "US-EAST")]
    assert (mug.available, mug.on_hand, mug.reserved, mug.threshold) == (4, 5, 1, 5)


def test_drafts_one_purchase_order_per_supplier_and_warehouse_once(stock):
    drafted = purchase_orders_draft_for_low_stock()

    assert sorted((po.supplier.name, po.warehouse.code) for po in drafted) == [
        ("Acme Textiles", "US-EAST"),
        ("Mug Co", "US-EAST"),
    ]
    by_supplier = {po.supplier.name: po for po in drafted}
    assert lines_of(by_supplier["Acme Textiles"]) == {"TSHIRT-RED-M": 50}
    assert lines_of(by_supplier["Mug Co"]) == {"MUG-BLUE": 24}
    for po in drafted:
        assert re.fullmatch(r"PO-\d{6}", po.number)
        assert po.status == "draft"

    assert purchase_orders_draft_for_low_stock() == []  # already on open purchase orders
    assert PurchaseOrder.objects.count() == 2


def test_products_on_an_open_purchase_order_are_skipped_until_it_closes(stock):
    po = purchase_order_create(
        supplier=stock["acme"], warehouse=stock["east"], lines={stock["shirt"].pk: 10}, actor=None
    )
    purchase_order_mark_ordered(po=po, actor=None)
    drafted = purchase_orders_draft_for_low_stock()
    assert [lines_of(p) for p in drafted] == [{"MUG-BLUE": 24}]  # the shirt is on order

    purchase_order_cancel(po=po, actor=None, reason="supplier out of stock")
    again = purchase_orders_draft_for_low_stock()
    assert [lines_of(p) for p in again] == [{"TSHIRT-RED-M": 50}]


def test_inactive_supplier_gets_no_draft_but_the_product_is_still_reported(stock):
    Supplier.objects.filter(pk=stock["mugs"].pk).update(active=False)
    assert [lines_of(p) for p in purchase_orders_draft_for_low_stock()] == [{"TSHIRT-RED-M": 50}]
    assert "MUG-BLUE" in {i.sku for i in low_stock_list()}


def test_lifecycle_receiving_adds_stock_with_a_ledger_row_per_line(stock):
    staff = StaffFactory()
    po = purchase_order_create(
        supplier=stock["acme"],
        warehouse=stock["east"],
        lines={stock["shirt"].pk: 10, stock["mug"].pk: 6},
        actor=staff,
    )
    with pytest.raises(TransitionNotAllowed):
        purchase_order_receive(po=po, lines={stock["shirt"].pk: 1}, actor=staff)  # still a draft

    po = purchase_order_mark_ordered(po=po, actor=staff)
    assert po.status == "ordered" and po.ordered_at is not None

    po = purchase_order_receive(po=po, lines={stock["shirt"].pk: 4}, actor=staff)
    assert po.status == "partially_received"
    east_shirt = StockLevel.objects.get(product=stock["shirt"], warehouse=stock["east"])
    assert east_shirt.on_hand == 3 + 4
    receipt = StockMovement.objects.filter(kind=MovementKind.RECEIPT).order_by("-id").first()
    assert (receipt.product, receipt.warehouse, receipt.on_hand_delta) == (
        stock["shirt"],
        stock["east"],
        4,
    )
    assert receipt.actor == staff and po.number in receipt.reason

    with pytest.raises(TransitionNotAllowed):
        purchase_order_cancel(po=po, actor=staff)  # goods arrived already

    po = purchase_order_receive(
        po=po, lines={stock["shirt"].pk: 6, stock["mug"].pk: 6}, actor=staff
    )
    assert po.status == "received" and po.received_at is not None
    assert StockLevel.objects.get(product=stock["shirt"], warehouse=stock["east"]).on_hand == 13
    assert StockLevel.objects.get(product=stock["mug"], warehouse=stock["east"]).on_hand == 11
    received = dict(po.lines.values_list("product__sku", "quantity_received"))
    assert received == {"TSHIRT-RED-M": 10, "MUG-BLUE": 6}
    ledger = StockMovement.objects.filter(kind=MovementKind.RECEIPT, reason__contains=po.number)
    assert ledger.count() == 3 and ledger.aggregate(units=Sum("on_hand_delta"))["units"] == 16
    assert stock_drift() == []  # the ledger still explains every level

    with pytest.raises(TransitionNotAllowed):
        purchase_order_receive(po=po, lines={stock["shirt"].pk: 1}, actor=staff)


def test_receiving_a_new_warehouse_creates_its_stock_level(stock):
    po = purchase_order_create(
        supplier=stock["mugs"], warehouse=stock["west"], lines={stock["mug"].pk: 12}, actor=None
    )
    purchase_order_mark_ordered(po=po, actor=None)
    purchase_order_receive(po=po, lines={stock["mug"].pk: 12}, actor=None)
    assert StockLevel.objects.get(product=stock["mug"], warehouse=stock["west"]).on_hand == 12
    assert stock_drift() == []


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ({"shirt": 11}, "OVER_RECEIPT"),
        ({"shirt": 0}, "INVALID_QUANTITY"),
        ({"mug": 1}, "NOT_ON_ORDER"),
        ({}, "EMPTY"),
    ],
)
def test_bad_receipts_change_nothing(stock, lines, code):
    po = purchase_order_create(
        supplier=stock["acme"], warehouse=stock["east"], lines={stock["shirt"].pk: 10}, actor=None
    )
    purchase_order_mark_ordered(po=po, actor=None)
    movements = StockMovement.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        purchase_order_receive(
            po=po, lines={stock[name].pk: qty for name, qty in lines.items()}, actor=None
        )
    assert code in {d["code"] for d in caught.value.details}
    assert StockMovement.objects.count() == movements
    po.refresh_from_db()
    assert po.status == "ordered"
    assert PurchaseOrderLine.objects.get(purchase_order=po).quantity_received == 0


def test_cancel_from_draft_and_ordered_only_and_empty_orders_cannot_be_ordered(stock):
    draft = purchase_order_create(
        supplier=stock["acme"], warehouse=stock["east"], lines={stock["shirt"].pk: 1}, actor=None
    )
    assert purchase_order_cancel(po=draft, actor=None, reason="dup").status == "cancelled"
    with pytest.raises(TransitionNotAllowed):
        purchase_order_mark_ordered(po=draft, actor=None)

    ordered = purchase_order_create(
        supplier=stock["acme"], warehouse=stock["east"], lines={stock["shirt"].pk: 1}, actor=None
    )
    purchase_order_mark_ordered(po=ordered, actor=None)
    cancelled = purchase_order_cancel(po=ordered, actor=None, reason="late")
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "late")

    empty = PurchaseOrder.objects.create(supplier=stock["acme"], warehouse=stock["east"])
    with pytest.raises(ValidationFailed):
        purchase_order_mark_ordered(po=empty, actor=None)


def test_status_cannot_be_assigned_directly(stock):
    po = purchase_order_create(
        supplier=stock["acme"], warehouse=stock["east"], lines={stock["shirt"].pk: 1}, actor=None
    )
    with pytest.raises(AttributeError):
        po.status = "received"


# --- admin -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pass-word-123")
    client.force_login(user)
    return client


def test_admin_buttons_call_the_services(admin_client, stock):
    po = purchase_order_create(
        supplier=stock["acme"], warehouse=stock["east"], lines={stock["shirt"].pk: 10}, actor=None
    )
    page = admin_client.get(f"/admin/inventory/purchaseorder/{po.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Mark ordered" in html and "Receive all remaining" not in html
    assert 'name="status"' not in html  # the status is never a form field

    response = admin_client.post(f"/admin/inventory/purchaseorder/{po.pk}/mark-ordered/")
    assert response.status_code == 302
    po.refresh_from_db()
    assert po.status == "ordered"

    html = admin_client.get(f"/admin/inventory/purchaseorder/{po.pk}/change/").content.decode()
    assert "Receive all remaining" in html and 'name="supplier"' not in html  # locked now
    admin_client.post(f"/admin/inventory/purchaseorder/{po.pk}/receive-remaining/")
    po.refresh_from_db()
    assert po.status == "received"
    assert StockLevel.objects.get(product=stock["shirt"], warehouse=stock["east"]).on_hand == 13

    # A refused action is a message, not an error page.
    response = admin_client.post(f"/admin/inventory/purchaseorder/{po.pk}/cancel/", follow=True)
    assert response.status_code == 200
    assert "cannot be cancelled" in response.content.decode()
    po.refresh_from_db()
    assert po.status == "received"


def test_admin_bulk_cancel_and_add_form_numbers_the_order(admin_client, stock):
    response = admin_client.post(
        "/admin/inventory/purchaseorder/add/",
        {
            "supplier": stock["acme"].pk,
            "warehouse": stock["east"].pk,
            "notes": "by hand",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "0",
            "lines-MAX_NUM_FORMS": "1000",
            "lines-0-product": stock["shirt"].pk,
            "lines-0-quantity_ordered": "7",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    po = PurchaseOrder.objects.get(notes="by hand")
    assert re.fullmatch(r"PO-\d{6}", po.number) and po.status == "draft"
    assert lines_of(po) == {"TSHIRT-RED-M": 7}

    admin_client.post(
        "/admin/inventory/purchaseorder/",
        {"action": "cancel_selected", "_selected_action": [po.pk]},
    )
    po.refresh_from_db()
    assert po.status == "cancelled"


def test_admin_lists_suppliers_and_reorder_points(admin_client, stock):
    assert "Acme Textiles" in admin_client.get("/admin/inventory/supplier/").content.decode()
    assert "TSHIRT-RED-M" in admin_client.get("/admin/inventory/reorderpoint/").content.decode()
