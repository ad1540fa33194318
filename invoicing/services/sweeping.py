"""Issue whatever documents are missing (a lost message never loses an invoice)."""

from django.db.models import Q

from invoicing.services.issuing import documents_issue_for_payment
from payments.models import GatewayOperation, Payment, RefundStatus


def documents_issue_missing(*, actor=None) -> int:
    payments = (
        Payment.objects.filter(
            Q(
                gateway_calls__operation=GatewayOperation.CAPTURE,
                gateway_calls__ok=True,
                gateway_calls__invoice__isnull=True,
            )
            | Q(refunds__status=RefundStatus.SUCCEEDED, refunds__credit_note__isnull=True)
        )
        .distinct()
        .values_list("pk", flat=True)
    )
    return sum(len(documents_issue_for_payment(payment_id=pk, actor=actor)) for pk in payments)
