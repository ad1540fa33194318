"""Thin Celery entry points (routed to the `refunds` queue): ids in, a
service call, the retry policy here."""

from celery import shared_task

from config.celery import retry_policy
from payments.gateways.base import GatewayError

from .services.refunding import return_refund_issue


# GatewayError covers an unreachable gateway and OperationInProgress (the same
# refund in flight elsewhere): both resolve by themselves, so retry with backoff.
@shared_task(name="returns.tasks.return_refund", **retry_policy(GatewayError))
def return_refund(return_id: int) -> str:
    return return_refund_issue(return_id=return_id).status
