"""The daily stock check: drafts purchase orders once and e-mails each staff
address the low stock report per warehouse, once a day, even when run twice at once."""

import json

import pytest
from django.core import mail

from inventory.models import PurchaseOrder, ReorderPoint, Supplier
from jobs.stock_report import low_stock_report_run
from jobs.tasks import low_stock_report
from notifications.models import Notification
from tests.factories import WarehouseFactory
from tests.ops_jobs.support import command, concurrently
from tests.orders.support import product

OPS = ["ops@example.com", "warehouse@example.com"]


def build_stock():
    east = WarehouseFactory(code="US-EAST")
    west = WarehouseFactory(code="US-WEST", priority=20)
    acme = Supplier.objects.create(name="Acme Textiles")
    mugs = Supplier.objects.create(name="Mug Co")
    shirt = product("TSHIRT-RED-M", {"US": "19.99"}, {east: 2, west: 1})
    mug = product("MUG-BLUE", {"US": "12.50"}, {east: 4})
    cap = product("CAP-BLACK", {"US": "9.99"}, {east: 100})
    for item, warehouse, supplier in [
        (shirt, east, acme),
        (shirt, west, acme),
        (mug, east, mugs),
        (cap, east, acme),
    ]:
        ReorderPoint.objects.create(
            product=item,
            warehouse=warehouse,
            reorder_level=5,
            reorder_quantity=20,
            supplier=supplier,
        )


@pytest.fixture
def low_stock(db, settings):
    settings.OPS_EMAILS = OPS
    build_stock()


def test_drafts_and_emails_each_address_per_warehouse_once_a_day(
    low_stock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the e-mails go on commit
        run = low_stock_report_run()

    assert sorted((i.sku, i.warehouse) for i in run.items) == [
        ("MUG-BLUE", "US-EAST"),
        ("TSHIRT-RED-M", "US-EAST"),
        ("TSHIRT-RED-M", "US-WEST"),
    ]
    # One draft per supplier and warehouse.
    assert sorted(
        PurchaseOrder.objects.values_list("supplier__name", "warehouse__code", "status")
    ) == [
        ("Acme Textiles", "US-EAST", "draft"),
        ("Acme Textiles", "US-WEST", "draft"),
        ("Mug Co", "US-EAST", "draft"),
    ]
    assert len(run.drafted) == 3
    # Each address gets one report per warehouse.
    assert sorted((m.to[0], "US-WEST" in m.body) for m in mail.outbox) == sorted(
        [(address, west) for address in OPS for west in (False, True)]
    )
    east = next(m for m in mail.outbox if m.to == ["ops@example.com"] and "US-EAST" in m.body)
    assert "MUG-BLUE" in east.body and "TSHIRT-RED-M" in east.body and "CAP-BLACK" not in east.body
    note = Notification.objects.filter(template="low_stock_report").first()
    item = note.context["items"][0]
    assert {"sku", "name", "warehouse", "available", "on_hand", "reserved", "threshold"} <= set(
        item
    )
    assert item["purchase_order"].startswith("PO-")  # the draft that brings more
    assert note.context["generated_at"]

    with django_capture_on_commit_callbacks(execute=True):
        again = low_stock_report_run()
    assert again.drafted == []
    assert PurchaseOrder.objects.count() == 3
    assert len(mail.outbox) == 4  # same day: nobody e-mailed twice
    assert Notification.objects.filter(template="low_stock_report").count() == 4


def test_nothing_low_means_no_mail_and_no_drafts(db, settings):
    settings.OPS_EMAILS = OPS
    warehouse = WarehouseFactory(code="US-EAST")
    item = product("CAP-BLACK", {"US": "9.99"}, {warehouse: 100})
    supplier = Supplier.objects.create(name="Acme Textiles")
    ReorderPoint.objects.create(
        product=item, warehouse=warehouse, reorder_level=5, reorder_quantity=20, supplier=supplier
    )
    run = low_stock_report_run()
    assert (run.items, run.drafted, run.emailed) == ([], [], {})
    assert not Notification.objects.exists()


def test_without_ops_emails_it_still_drafts(db, settings, caplog):
    settings.OPS_EMAILS = []
    build_stock()
    run = low_stock_report_run()
    assert len(run.drafted) == 3
    assert not Notification.objects.exists()
    assert "OPS_EMAILS is empty" in caplog.text


def test_command_and_task_by_hand(low_stock):
    code, out = command("low_stock_report", "--json")
    report = json.loads(out)
    assert code == 0 and len(report["drafted_purchase_orders"]) == 3
    assert sorted(report["emailed"]) == ["US-EAST", "US-WEST"]

    code, out = command("low_stock_report")
    assert "drafted 0 purchase order(s)" in out and "MUG-BLUE @ US-EAST" in out
    assert low_stock_report.apply().get()["drafted"] == []  # the beat task


def test_draft_command_of_inventory(low_stock):
    code, out = command("draft_purchase_orders")
    assert code == 0 and "drafted 3 purchase order(s)" in out and "20 × MUG-BLUE" in out
    assert "drafted 0" in command("draft_purchase_orders")[1]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_draft_once_and_mail_once(settings):
    settings.OPS_EMAILS = OPS
    build_stock()

    runs = concurrently(low_stock_report_run)

    assert sorted(len(run.drafted) for run in runs) == [0, 3]  # one runner drafted everything
    assert PurchaseOrder.objects.count() == 3
    assert sorted(PurchaseOrder.objects.values_list("supplier__name", "warehouse__code")) == [
        ("Acme Textiles", "US-EAST"),
        ("Acme Textiles", "US-WEST"),
        ("Mug Co", "US-EAST"),
    ]
    assert Notification.objects.filter(template="low_stock_report").count() == 4
    assert len(mail.outbox) == 4  # sent on commit by the eager worker, once each
