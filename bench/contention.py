"""Many clients buying the last units of one SKU: 10,000 single-unit purchases
of a SKU with 2,000 units from 64 clients. Nothing may be oversold, and nothing
may be refused while units are left."""

from __future__ import annotations

from bench.common import (
    Servers,
    configure_env,
    create_customers,
    create_products,
    error_summary,
    latency_ms,
    log,
    machine,
    no_response,
    order_checks,
    parse,
    parser,
    prepare_database,
    report,
    run_child,
    run_main,
    stock_checks,
    warm_up,
)

HEADERS = ["clients", "requests", "sold", "refused", "other errors", "oversold", "left",
           "requests/s", "sold/s", "p50 ms", "p99 ms"]  # fmt: skip


def stock_of(sku: str) -> tuple[int, int, int, int]:
    """(on_hand, reserved, units ordered in orders not cancelled, units shipped)."""
    from django.db.models import Sum

    from inventory.models import StockLevel
    from orders.models import OrderLine

    level = StockLevel.objects.get(product__sku=sku)
    lines = OrderLine.objects.filter(sku=sku).exclude(order__status="cancelled")
    sums = lines.aggregate(ordered=Sum("quantity"), shipped=Sum("quantity_shipped"))
    return level.on_hand, level.reserved, sums["ordered"] or 0, sums["shipped"] or 0


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--requests", type=int, default=10_000, help="purchases (default 10000)")
    p.add_argument("--stock", type=int, default=2_000, help="units of the SKU (default 2000)")
    p.add_argument("--clients", type=int, default=64, help="client threads (default 64)")
    args = parse(p, quick={"requests": 1_000, "stock": 200})

    configure_env()
    prepare_database()
    (sku,) = create_products(1, stock=args.stock, prefix="HOT")
    tokens = create_customers(args.clients)
    with Servers(
        workers=args.workers, threads=args.threads, celery_concurrency=args.celery_concurrency
    ) as servers:
        warm_up(servers, tokens, 2 * args.workers * args.threads)
        log(f"{args.requests} purchases of {args.stock} units from {args.clients} clients")
        out = run_child("bench.loadgen", {
            "base_url": servers.url, "threads": args.clients, "mode": "closed",
            "total": args.requests,
            "request": {"kind": "place", "tokens": tokens, "skus": [sku],
                        "lines": 1, "max_quantity": 1},
        })  # fmt: skip
        log_errors = servers.check_logs()

    results, elapsed = out["results"], out["elapsed"]
    numbers = [r[2] for r in results if r[0] == 201]
    refused = sum(1 for r in results if r[0] == 400 and r[2] == "INSUFFICIENT_STOCK")
    other = len(results) - len(numbers) - refused
    on_hand, reserved, ordered, shipped = stock_of(sku)
    oversold = max(0, len(numbers) - args.stock, ordered - args.stock)
    left = on_hand - reserved
    failures = order_checks(numbers, no_response(results)) + stock_checks()
    if oversold:
        failures.append(f"oversold by {oversold}")
    if ordered != reserved + shipped:
        failures.append(f"units ordered {ordered} != reserved {reserved} + shipped {shipped}")
    if refused and left:
        failures.append(f"{refused} purchases refused while {left} units were left")
    row = [
        args.clients, len(results), len(numbers), refused, other, oversold, left,
        len(results) / elapsed, len(numbers) / elapsed, latency_ms(results, 50),
        latency_ms(results, 99),
    ]  # fmt: skip
    report(
        args,
        "contention",
        [("contention", f"One SKU, {args.stock} units", HEADERS, [row])],
        {
            "machine": machine(),
            "config": {"requests": args.requests, "stock": args.stock, "clients": args.clients,
                       "gunicorn_workers": args.workers, "gunicorn_threads": args.threads},
            "stock level": {"on_hand": on_hand, "reserved": reserved, "units ordered": ordered},
            "errors": error_summary(results, {201}),
            "server log errors": log_errors[:20],
            "checks": failures or "all passed",
        },
    )  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    run_main(main)
