"""reconcile_stock finds injected drift of each kind, --fix repairs it, and a
second run reports clean."""

import json

import pytest
from django.core.management import call_command

from inventory.models import Reservation, StockLevel, StockMovement
from orders.services import OrderItemInput, order_place
from tests.factories import UserFactory, WarehouseFactory, priced_product, us_market
from tests.maintenance.test_order_sweeps import ADDRESS


@pytest.fixture
def stocked(db):
    us_market()
    warehouse = WarehouseFactory(code="US-EAST")
    product = priced_product("TSHIRT-RED-M", {"US": "19.99"})
    from inventory.services import stock_adjust

    stock_adjust(product=product, warehouse=warehouse, quantity=10, actor=None, reason="receipt")
    order_place(
        customer=UserFactory(),
        market_code="US",
        items=[OrderItemInput("TSHIRT-RED-M", 3)],
        shipping_method="standard",
        shipping_address=ADDRESS,
        payment_method="card",
        payment_token="tok_visa",
    )
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def run(*args) -> tuple[int, str]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("reconcile_stock", *args, stdout=out, stderr=StringIO())
        return 0, out.getvalue()
    except SystemExit as exc:
        return exc.code, out.getvalue()


def test_clean_stock_reports_clean(stocked):
    code, out = run()
    assert code == 0 and "clean" in out


@pytest.mark.parametrize(
    ("inject", "kind"),
    [
        ({"on_hand": 8}, "on_hand_vs_ledger"),  # units vanished without a ledger row
        ({"reserved": 5}, "reserved_vs_reservations"),  # reserved without a reservation
    ],
)
def test_drift_is_found_fixed_and_then_clean(stocked, inject, kind):
    StockLevel.objects.filter(pk=stocked.pk).update(**inject)

    code, out = run("--json")
    report = json.loads(out)
    assert code == 1
    assert [d["sku"] for d in report["drift"]] == ["TSHIRT-RED-M"]
    assert kind in report["drift"][0]["kinds"]

    movements_before = StockMovement.objects.count()
    code, out = run("--fix")
    assert code == 0 and "fixed:" in out
    assert StockMovement.objects.count() == movements_before + 1  # the audit row
    audit = StockMovement.objects.order_by("-id").first()
    assert audit.reason.startswith("reconcile_stock --fix")

    level = StockLevel.objects.get(pk=stocked.pk)
    assert (level.on_hand, level.reserved) == (10, 3)
    code, out = run()
    assert code == 0 and "clean" in out


def test_released_reservation_with_reserved_left_behind(stocked):
    Reservation.objects.update(status="released")  # reservation gone, level still says 3
    code, out = run()
    assert code == 1 and "reserved_vs_reservations" in out
    assert run("--fix")[0] == 0
    assert StockLevel.objects.get(pk=stocked.pk).reserved == 0
    assert run()[0] == 0
