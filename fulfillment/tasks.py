"""Thin Celery entry points (routed to the `fulfilment` queue): ids in, a
service call, the retry policy here. Both services are idempotent, so a
redelivered message changes nothing twice."""

from celery import shared_task

from config.celery import retry_policy
from orders.services.fulfillment import order_collect_cod as collect_cod_service
from payments.gateways.base import GatewayError

from .services.actions import shipments_cancel_for_cancelled_order
from .services.shipping import shipment_process_shipped

RETRY = retry_policy(GatewayError)


@shared_task(name="fulfillment.tasks.shipment_shipped", **RETRY)
def shipment_shipped(shipment_id: int) -> str:
    return shipment_process_shipped(shipment_id=shipment_id).status


@shared_task(name="fulfillment.tasks.order_collect_cod", **RETRY)
def order_collect_cod(order_id: int) -> str:
    return collect_cod_service(order_id=order_id).payment_status


@shared_task(name="fulfillment.tasks.cancel_shipments_of_cancelled_order", **RETRY)
def cancel_shipments_of_cancelled_order(order_id: int) -> int:
    return shipments_cancel_for_cancelled_order(order_id=order_id)
