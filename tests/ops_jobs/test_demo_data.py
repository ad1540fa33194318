"""`seed_demo` puts stock in through inventory's receipts: every unit has a
ledger row, so stock reconciliation finds nothing to repair, and a second run
adds nothing unless stock went below the demo level."""

from io import StringIO

from django.core.management import call_command

from inventory.models import MovementKind, StockLevel, StockMovement
from inventory.services import stock_adjust


def seed() -> None:
    call_command("seed_demo", stdout=StringIO())


def reconcile_stock_exit_code() -> int:
    try:
        call_command("reconcile_stock", stdout=StringIO(), stderr=StringIO())
    except SystemExit as exc:
        return exc.code
    return 0


def test_seeded_stock_is_received_through_the_ledger(db):
    seed()
    receipts = StockMovement.objects.filter(kind=MovementKind.RECEIPT)
    on_hand = sorted(StockLevel.objects.values_list("on_hand", flat=True))
    assert on_hand and min(on_hand) > 0
    assert sum(receipts.values_list("on_hand_delta", flat=True)) == sum(on_hand)
    assert reconcile_stock_exit_code() == 0

    seed()
    assert sorted(StockLevel.objects.values_list("on_hand", flat=True)) == on_hand
    assert receipts.count() == len(on_hand)  # one receipt per level, none more
    assert reconcile_stock_exit_code() == 0


def test_a_second_run_tops_stock_back_up_with_a_receipt(db):
    seed()
    level = StockLevel.objects.select_related("product", "warehouse").order_by("pk").first()
    full = level.on_hand
    stock_adjust(
        product=level.product, warehouse=level.warehouse, quantity=-3, actor=None, reason="damage"
    )
    seed()
    level.refresh_from_db()
    assert level.on_hand == full
    topped_up = StockMovement.objects.filter(
        product=level.product, warehouse=level.warehouse, kind=MovementKind.RECEIPT
    )
    assert sorted(topped_up.values_list("on_hand_delta", flat=True)) == [3, full]
    assert reconcile_stock_exit_code() == 0
