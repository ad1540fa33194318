"""Packing slips per shipment and batched pick lists per warehouse (PDF),
downloadable from the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from fulfillment.documents import render_packing_slip, render_pick_list
from fulfillment.selectors import pick_list
from inventory.models import StockLevel
from tests.factories import StaffFactory
from tests.fulfillment.support import shipment
from tests.orders.support import product


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return content.decode("latin-1")


@pytest.fixture
def mug(shop):
    return product("MUG-WHITE", {"US": "9.50"}, {shop.us_wh: 40})


def test_packing_slip_lists_the_order_and_this_parcels_lines(shop, confirmed_order, ful):
    order = confirmed_order([("TSHIRT-RED-M", 3), ("HOODIE-GREY-M", 1)])
    created = ful.create(order.number, [("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1)])
    text = pdf_text(render_packing_slip(shipment(created["number"]), compress=False))
    assert order.number in text
    assert created["number"] in text
    assert "(TSHIRT-RED-M)" in text and "(HOODIE-GREY-M)" in text
    assert "(2)" in text and "(1)" in text
    assert "Ana Cruz" in text and "Springfield" in text
    assert "3 units in this parcel." in text
    # The default rendering is compressed and still a PDF.
    assert render_packing_slip(shipment(created["number"])).startswith(b"%PDF-")


def test_pick_list_groups_open_shipments_by_sku_in_bin_order(shop, confirmed_order, ful, mug):
    StockLevel.objects.filter(warehouse=shop.us_wh, product=shop.tshirt).update(bin_location="C-03")
    StockLevel.objects.filter(warehouse=shop.us_wh, product=shop.hoodie).update(bin_location="A-12")
    first = confirmed_order([("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1), ("MUG-WHITE", 1)])
    second = confirmed_order([("TSHIRT-RED-M", 3)])
    a = ful.create(first.number, [("TSHIRT-RED-M", 2), ("HOODIE-GREY-M", 1), ("MUG-WHITE", 1)])
    b = ful.create(second.number, [("TSHIRT-RED-M", 1)])
    ful.post(f"/api/v1/shipments/{b['number']}/pack/")
    ful.create_and_ship(second.number, [("TSHIRT-RED-M", 2)])  # gone: not picked again

    rows = pick_list(warehouse=shop.us_wh)
    assert [(r.bin_location, r.sku, r.quantity) for r in rows] == [
        ("A-12", "HOODIE-GREY-M", 1),
        ("C-03", "TSHIRT-RED-M", 3),
        ("", "MUG-WHITE", 1),  # no bin: last
    ]
    assert rows[1].shipments == [(a["number"], 2), (b["number"], 1)]

    text = pdf_text(render_pick_list(shop.us_wh, compress=False))
    assert text.index("(A-12)") < text.index("(C-03)")
    assert "(TSHIRT-RED-M)" in text and "(3)" in text
    assert a["number"] in text and b["number"] in text
    assert pdf_text(render_pick_list(shop.in_wh, compress=False))  # empty list still renders


def test_admin_downloads(shop, confirmed_order, ful, client):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    created = shipment(ful.create(order.number, [("TSHIRT-RED-M", 1)])["number"])
    user = StaffFactory()
    user.user_permissions.set(Permission.objects.filter(codename="view_shipment"))
    client.force_login(user)

    slip = client.get(f"/admin/fulfillment/shipment/{created.pk}/packing-slip.pdf")
    assert slip.status_code == 200
    assert slip["Content-Type"] == "application/pdf"
    assert slip.content.startswith(b"%PDF-")

    page = client.get("/admin/fulfillment/shipment/pick-lists/")
    assert page.status_code == 200
    assert b"US-EAST" in page.content
    pick = client.get("/admin/fulfillment/shipment/pick-lists/US-EAST.pdf")
    assert pick.status_code == 200 and pick.content.startswith(b"%PDF-")
    assert client.get("/admin/fulfillment/shipment/pick-lists/NOPE.pdf").status_code == 404

    outsider = StaffFactory()
    client.force_login(outsider)
    assert (
        client.get(f"/admin/fulfillment/shipment/{created.pk}/packing-slip.pdf").status_code == 403
    )
