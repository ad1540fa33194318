"""The packing slip that goes in the box: which order, to whom, what is in
this parcel (a partial shipment lists only its own units)."""

from __future__ import annotations

from django.utils import timezone
from reportlab.platypus import Spacer

from ..carriers import tracking_url
from ..models import Shipment
from .common import build, para, table

ADDRESS_KEYS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")


def _address(address: dict) -> list[str]:
    city = " ".join(filter(None, [address.get("postal_code"), address.get("city")]))
    parts = [
        address.get("name"),
        address.get("line1"),
        address.get("line2"),
        ", ".join(filter(None, [city, address.get("region")])),
        address.get("country"),
        address.get("phone"),
    ]
    return [str(p) for p in parts if p]


def render_packing_slip(shipment: Shipment, *, compress: bool = True) -> bytes:
    order = shipment.order
    lines = list(shipment.lines.select_related("order_line").order_by("order_line__sku"))
    story = [
        para(f"Packing slip {shipment.number}", "Title"),
        para(f"Order {order.number}", "Heading2"),
        para(
            f"Date: {timezone.localdate():%Y-%m-%d} · Warehouse: {shipment.warehouse.code} · "
            f"Shipping: {order.shipping_method}"
        ),
    ]
    if shipment.tracking_number:
        link = tracking_url(shipment.carrier, shipment.tracking_number)
        story.append(
            para(f"Carrier: {shipment.carrier} · Tracking: {shipment.tracking_number} {link}")
        )
    story += [Spacer(1, 8), para("Ship to", "Heading3")]
    story += [para(line) for line in _address(order.shipping_address or {})]
    story.append(Spacer(1, 10))
    rows = [["SKU", "Item", "Qty"]]
    rows += [
        [line.order_line.sku, para(line.order_line.name), str(line.quantity)] for line in lines
    ]
    story.append(table(rows, [45, 115, 20]))
    units = sum(line.quantity for line in lines)
    story += [Spacer(1, 8), para(f"{units} unit{'s' if units != 1 else ''} in this parcel.")]
    return build(story, title=f"Packing slip {shipment.number}", compress=compress)
