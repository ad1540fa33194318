"""Thin Celery entry points: ids in, a service call, retry policy here."""

from celery import shared_task

from config.celery import retry_policy
from operations.services import error_record, error_resolve_on_success
from payments.gateways.base import GatewayError

from .services.confirming import order_confirm as confirm_service
from .services.confirming import order_settle_cancelled_payment as settle_service
from .services.maintenance import orders_expire_unconfirmed, orders_requeue_stuck
from .services.payment_status import order_sync_payment_status

RETRY = retry_policy(GatewayError)


def run_recording_gateway_trouble(task, step: str, order_id: int, call):
    """Run `call`; a gateway failure is recorded (critical once retries run
    out) and re-raised for autoretry; a success resolves earlier records."""
    try:
        result = call()
    except GatewayError as exc:
        last = task.request.retries >= task.max_retries
        error_record(
            category="external_api",
            step=step,
            order_id=order_id,
            severity="critical" if last else "warning",
            message=str(exc) or type(exc).__name__,
            details={"retries": task.request.retries},
        )
        raise
    # Only the trouble recorded above: an outcome the step itself recorded (a
    # declined card) stays before ops.
    error_resolve_on_success(step=step, order_id=order_id, categories=("external_api",))
    return result


@shared_task(name="orders.tasks.order_confirm", bind=True, **RETRY)
def order_confirm(self, order_id: int, validation_ms: float | None = None) -> str:
    return run_recording_gateway_trouble(
        self,
        "order_confirm",
        order_id,
        lambda: confirm_service(order_id=order_id, validation_ms=validation_ms).status,
    )


@shared_task(name="orders.tasks.order_settle_cancelled_payment", bind=True, **RETRY)
def order_settle_cancelled_payment(self, order_id: int) -> str:
    return run_recording_gateway_trouble(
        self,
        "order_settle_cancelled_payment",
        order_id,
        lambda: settle_service(order_id=order_id).payment_status,
    )


@shared_task(name="orders.tasks.order_sync_payment", acks_late=True)
def order_sync_payment(order_id: int) -> str:
    return order_sync_payment_status(order_id=order_id).payment_status


@shared_task(name="orders.tasks.expire_unconfirmed_orders")
def expire_unconfirmed_orders() -> int:
    return len(orders_expire_unconfirmed())


@shared_task(name="orders.tasks.requeue_stuck_orders")
def requeue_stuck_orders() -> int:
    return len(orders_requeue_stuck())
