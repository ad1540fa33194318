"""Order placement through HTTP at rising concurrency (gunicorn + a Celery worker
on PostgreSQL + Redis), the time until the worker has settled every order, the
integrity checks, then the raw-SQL limit of the same transaction."""

from __future__ import annotations

from pathlib import Path

from bench.common import (
    DSN,
    Servers,
    configure_env,
    cpu_seconds,
    create_customers,
    create_products,
    error_summary,
    ints,
    latency_ms,
    log,
    machine,
    no_response,
    order_checks,
    parse,
    parser,
    percentile,
    prepare_database,
    report,
    run_child,
    run_main,
    sample_stacks,
    stacks_sampled,
    status_counts,
    stock_checks,
    wait_settled,
    warm_up,
)

LEVEL_HEADERS = ["clients", "requests", "201", "errors", "orders/s", "p50 ms", "p95 ms",
                 "p99 ms", "settled s", "confirm p50 s", "confirm p95 s"]  # fmt: skip
CPU_HEADERS = ["clients", "web ms", "worker ms", "postgres ms", "load generator ms",
               "total ms", "orders/s the CPUs allow", "machine ms"]  # fmt: skip
RAW_HEADERS = ["clients", "tx", "errors", "tx/s", "p50 ms", "p99 ms", "Orderly orders/s",
               "Orderly % of raw"]  # fmt: skip


def settle_seconds(numbers: list[str]) -> list[float]:
    """Seconds from placing to the worker's verdict (confirmed, held or declined)."""
    from orders.models import Order

    rows = Order.objects.filter(number__in=numbers).values_list(
        "created_at", "confirmed_at", "held_at", "cancelled_at"
    )
    return [
        (next(filter(None, verdicts)) - created).total_seconds()
        for created, *verdicts in rows
        if any(verdicts)
    ]


def raw_spec(skus: list[str], args) -> dict:
    from django.contrib.auth import get_user_model

    from inventory.models import StockLevel
    from orders.models import Market

    levels = StockLevel.objects.filter(product__sku__in=skus).select_related("product")
    prices = {p.product_id: str(p.amount) for lv in levels for p in lv.product.prices.all()}
    return {
        "dsn": DSN,
        "duration": args.duration,
        "minimal": args.raw_minimal,
        "market_id": Market.objects.get(code="US").pk,
        "customer_ids": list(
            get_user_model()
            .objects.filter(username__startswith="bench")
            .values_list("pk", flat=True)
        ),
        "products": [
            {
                "id": lv.product_id,
                "sku": lv.product.sku,
                "name": lv.product.name,
                "price": prices[lv.product_id],
                "level_id": lv.pk,
                "warehouse_id": lv.warehouse_id,
            }
            for lv in levels
        ],
    }


def cpu_row(clients: int, before: dict, after: dict, orders: int) -> list:
    """What each part of the system spent per order placed (and confirmed)."""
    per_order = {name: (after[name] - before[name]) * 1000 / max(orders, 1) for name in after}
    parts = ("web", "worker", "postgres", "load generator")
    total = sum(per_order[name] for name in parts)
    return [clients, *(per_order[name] for name in parts), total,
            2000 / total if total else None, per_order["machine"]]  # fmt: skip


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--duration", type=float, default=10, help="seconds per level (default 10)")
    p.add_argument("--levels", type=ints, default=[1, 8, 32, 64], help="client counts")
    p.add_argument("--products", type=int, default=50, help="bench products (default 50)")
    p.add_argument("--customers", type=int, default=64, help="customers with a token each")
    p.add_argument("--settle-timeout", type=float, default=300, help="seconds (default 300)")
    p.add_argument(
        "--raw-minimal",
        action="store_true",
        help="raw SQL without the payment and ledger rows Orderly also writes",
    )
    p.add_argument("--no-raw", action="store_true", help="skip the raw-SQL limit")
    p.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="flame graphs of gunicorn's and the worker's CPU during each level, "
        "into DIR (needs py-spy: pip install py-spy; sampling costs CPU, so do not "
        "record that run's figures)",
    )
    args = parse(p, quick={"duration": 3, "levels": [1, 8], "products": 20})

    configure_env()
    prepare_database()
    skus = create_products(args.products, stock=1_000_000)
    tokens = create_customers(args.customers)
    rows, cpu_rows, numbers, errors, failures, lost = [], [], [], {}, [], 0
    flame_graphs: list[str] = []
    with Servers(
        workers=args.workers, threads=args.threads, celery_concurrency=args.celery_concurrency
    ) as servers:
        warm_up(servers, tokens, 2 * args.workers * args.threads)
        groups = {"web": servers.procs["gunicorn"].pid, "worker": servers.procs["celery"].pid}
        for clients in args.levels:
            log(f"placing orders with {clients} clients for {args.duration}s")
            cpu_before = cpu_seconds(groups)
            samplers = []
            if args.py_spy:
                samplers = sample_stacks(groups, args.duration, args.py_spy, f"{clients}-clients")
            out = run_child("bench.loadgen", {
                "base_url": servers.url, "threads": clients, "mode": "closed",
                "duration": args.duration, "seed": clients,
                "request": {"kind": "place", "tokens": tokens, "skus": skus,
                            "lines": 3, "max_quantity": 2},
            })  # fmt: skip
            flame_graphs += stacks_sampled(samplers)
            results = out["results"]
            placed = [r[2] for r in results if r[0] == 201]
            numbers += placed
            lost += no_response(results)
            errors[clients] = error_summary(results, {201})
            settled = wait_settled(args.settle_timeout)
            if settled is None:
                failures.append(f"orders left pending after the {clients}-client level")
            verdicts = settle_seconds(placed)
            cpu_rows.append(cpu_row(clients, cpu_before, cpu_seconds(groups), len(placed)))
            rows.append([
                clients, len(results), len(placed), len(results) - len(placed),
                len(placed) / out["elapsed"], latency_ms(results, 50), latency_ms(results, 95),
                latency_ms(results, 99), None if settled is None else round(settled, 1),
                percentile(verdicts, 50), percentile(verdicts, 95),
            ])  # fmt: skip
            if settled is None:
                log(
                    f"the worker is not settling orders; celery.log ends:\n{servers.tail('celery')}"
                )
                break
        log_errors = servers.check_logs()
    statuses = status_counts()
    failures += order_checks(numbers, lost) + stock_checks()

    raw_rows = []
    if not args.no_raw:
        spec = raw_spec(skus, args)
        for row in rows:
            clients = row[0]
            log(f"raw SQL with {clients} connections for {args.duration}s")
            out = run_child("bench.rawsql", {**spec, "threads": clients})
            results = out["results"]
            if errors := error_summary(results, {201}):  # the raw transaction must not fail
                failures.append(f"raw SQL with {clients} connections: {errors}")
            done = sum(1 for r in results if r[0] == 201)
            rate = done / out["elapsed"]
            raw_rows.append([
                clients, done, len(results) - done, rate, latency_ms(results, 50),
                latency_ms(results, 99), row[4], 100 * row[4] / rate if rate else None,
            ])  # fmt: skip
        if not args.raw_minimal:
            failures += [f"after raw SQL: {f}" for f in stock_checks()]

    report(
        args,
        "place_orders",
        [("levels", "HTTP order placement", LEVEL_HEADERS, rows),
         ("cpu", "CPU per placed order, level and settling (2 cores = 2,000 ms/s)", CPU_HEADERS,
          cpu_rows)]
        + ([("raw_sql", "Raw-SQL limit", RAW_HEADERS, raw_rows)] if raw_rows else []),
        {
            "machine": machine(),
            "config": {"duration": args.duration, "products": args.products,
                       "customers": args.customers, "gunicorn_workers": args.workers,
                       "gunicorn_threads": args.threads,
                       "celery_concurrency": args.celery_concurrency,
                       "raw_minimal": args.raw_minimal},
            "errors by clients": errors,
            "final order statuses (before raw SQL)": statuses,
            "server log errors": log_errors[:20],
            **({"flame graphs": flame_graphs} if args.py_spy else {}),
            "checks": failures or "all passed",
        },
    )  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    run_main(main)
