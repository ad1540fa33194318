from celery import shared_task

from invoicing.services.issuing import documents_issue_for_payment
from invoicing.services.sweeping import documents_issue_missing


@shared_task(name="invoicing.tasks.documents_issue_for_payment")
def documents_issue_for_payment_task(payment_id: int) -> int:
    return len(documents_issue_for_payment(payment_id=payment_id))


@shared_task(name="invoicing.tasks.documents_issue_missing")
def documents_issue_missing_task() -> int:
    return documents_issue_missing()
