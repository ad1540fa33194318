from decimal import Decimal

from django.core.management import call_command

from invoicing.models import FiscalDocument
from payments.services.refunding import payment_refund


def test_a_succeeded_refund_gets_a_credit_note(confirmed_order, ful, on_commit):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    with on_commit():
        payment_refund(
            payment_id=order.payment.pk,
            amount=Decimal("5.00"),
            reason="goodwill",
            actor=None,
            idempotency_key="cn-1",
        )
    note = FiscalDocument.objects.get(order=order, kind="credit_note")
    assert note.number.startswith("CN-US-") and note.number.endswith("-000001")
    assert note.total == Decimal("5.00")
    assert bytes(note.pdf).startswith(b"%PDF")


def test_the_sweep_issues_what_a_lost_message_missed(confirmed_order, ful, capsys):
    order = confirmed_order([("TSHIRT-RED-M", 1)])
    ful.create_and_ship(order.number, [("TSHIRT-RED-M", 1)])
    FiscalDocument.objects.filter(order=order).delete()  # as if the message was lost

    call_command("issue_missing_documents")
    assert FiscalDocument.objects.filter(order=order, kind="invoice").count() == 1
    call_command("issue_missing_documents")
    assert FiscalDocument.objects.filter(order=order).count() == 1
