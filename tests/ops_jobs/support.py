"""Helpers for the operations-job tests: real orders placed and confirmed
through the services, then aged or moved with plain updates where a test needs
a state the flows would take days (or a bug) to reach."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone

from orders.models import Order, OrderLine
from orders.services import OrderItemInput, order_place
from orders.services.confirming import order_confirm
from payments.models import Payment
from tests.factories import UserFactory, WarehouseFactory, in_market, us_market
from tests.orders.support import IN_ADDRESS, US_ADDRESS, product


def shop() -> None:
    """US and India markets, one warehouse each, two products with stock."""
    us_market()
    in_market()
    us = WarehouseFactory(code="US-EAST")
    india = WarehouseFactory(code="IN-WEST", country="IN", markets=["IN"])
    product("TSHIRT-RED-M", {"US": "19.99", "IN": "499.00"}, {us: 50, india: 50})
    product("MUG-BLUE", {"US": "12.50", "IN": "299.00"}, {us: 50, india: 50})


def confirmed_order(
    items=(("TSHIRT-RED-M", 2), ("MUG-BLUE", 1)), *, market: str = "US", method: str = "card"
) -> Order:
    """Placed and confirmed through the services (the worker's step, run inline)."""
    order = order_place(
        customer=UserFactory(),
        market_code=market,
        items=[OrderItemInput(sku, qty) for sku, qty in items],
        shipping_method="standard",
        shipping_address=IN_ADDRESS if market == "IN" else US_ADDRESS,
        payment_method=method,
        payment_token="" if method == "cod" else "tok_visa",
    )
    order = order_confirm(order_id=order.pk)
    assert order.status == "confirmed", (order.status, order.risk_reasons)
    return Order.objects.select_related("payment").get(pk=order.pk)


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def age_authorization(order: Order, **kwargs) -> None:
    Payment.objects.filter(order=order).update(authorized_at=ago(**kwargs))


def mark_shipped(order: Order, skus=None, *, status: str | None = None, **age) -> None:
    """Count lines (all, or those SKUs) as shipped, as the ship worker would."""
    lines = OrderLine.objects.filter(order=order)
    if skus is not None:
        lines = lines.filter(sku__in=skus)
    lines.update(quantity_shipped=F("quantity"))
    everything = not OrderLine.objects.filter(order=order, quantity_shipped=0).exists()
    Order.objects.filter(pk=order.pk).update(
        status=status or ("shipped" if everything else "partially_shipped"),
        shipped_at=ago(**age) if age else timezone.now(),
    )


def command(name: str, *args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=StringIO())
        return 0, out.getvalue()
    except SystemExit as exc:
        return exc.code, out.getvalue()


def concurrently(job: Callable, runners: int = 2) -> list:
    """Run `job` in `runners` threads released together; each closes its
    connection. Returns the results; re-raises the first error."""
    results, errors, barrier = [], [], threading.Barrier(runners)

    def run():
        barrier.wait()
        try:
            results.append(job())
        except Exception as exc:  # surfaced below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
