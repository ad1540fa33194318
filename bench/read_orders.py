"""Order reads at fixed request rates (open loop: requests are sent on a
schedule, not back to back, and latency counts from the scheduled time):
GET /api/v1/orders/{number}/ and GET /api/v1/orders/?page_size=20."""

from __future__ import annotations

from bench.common import (
    Servers,
    configure_env,
    create_customers,
    create_products,
    error_summary,
    ints,
    latency_ms,
    log,
    machine,
    parse,
    parser,
    prepare_database,
    report,
    run_child,
    run_main,
    wait_settled,
    warm_up,
)

HEADERS = ["endpoint", "target/s", "achieved/s", "requests", "errors", "p50 ms", "p90 ms",
           "p99 ms", "max ms"]  # fmt: skip


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--duration", type=float, default=10, help="seconds per rate (default 10)")
    p.add_argument("--rates", type=ints, default=[50, 200], help="requests/s (default 50,200)")
    p.add_argument("--orders", type=int, default=200, help="orders placed first (default 200)")
    p.add_argument(
        "--customers",
        type=int,
        default=8,
        help="owners of those orders (default 8: 25 orders each, so a list page is full)",
    )
    p.add_argument("--clients", type=int, default=64, help="most requests in flight (default 64)")
    args = parse(p, quick={"duration": 3, "rates": [20, 50], "orders": 80})

    configure_env()
    prepare_database()
    skus = create_products(20, stock=1_000_000)
    tokens = create_customers(args.customers)
    rows, errors, failures = [], {}, []
    with Servers(
        workers=args.workers, threads=args.threads, celery_concurrency=args.celery_concurrency
    ) as servers:
        log(f"placing {args.orders} orders")
        out = run_child("bench.loadgen", {
            "base_url": servers.url, "threads": 8, "mode": "closed", "total": args.orders,
            "request": {"kind": "place", "tokens": tokens, "skus": skus,
                        "lines": 3, "max_quantity": 2},
        })  # fmt: skip
        numbers = [r[2] for r in out["results"] if r[0] == 201]
        if len(numbers) != args.orders:
            failures.append(f"placed {len(numbers)} of {args.orders} orders")
        if wait_settled() is None:
            failures.append("orders left pending")
        warm_up(servers, tokens, 2 * args.workers * args.threads)

        from orders.models import Order

        owner = dict(Order.objects.values_list("number", "customer__auth_token__key"))
        endpoints = {
            "detail": [[owner[n], f"/api/v1/orders/{n}/"] for n in numbers],
            "list": [[t, "/api/v1/orders/?page_size=20"] for t in tokens],
        }
        for rate in args.rates:
            for name, targets in endpoints.items():
                log(f"GET {name} at {rate}/s for {args.duration}s")
                out = run_child("bench.loadgen", {
                    "base_url": servers.url, "threads": args.clients, "mode": "open",
                    "rate": rate, "duration": args.duration,
                    "request": {"kind": "get", "targets": targets},
                })  # fmt: skip
                results = out["results"]
                ok = sum(1 for r in results if r[0] == 200)
                errors[f"{name}@{rate}"] = error_summary(results, {200})
                rows.append([
                    name, rate, len(results) / out["elapsed"], len(results), len(results) - ok,
                    latency_ms(results, 50), latency_ms(results, 90), latency_ms(results, 99),
                    latency_ms(results, 100),
                ])  # fmt: skip
        log_errors = servers.check_logs()

    report(
        args,
        "read_orders",
        [("reads", "Order reads (open loop)", HEADERS, rows)],
        {
            "machine": machine(),
            "config": {"duration": args.duration, "orders": args.orders,
                       "customers": args.customers, "clients": args.clients,
                       "gunicorn_workers": args.workers, "gunicorn_threads": args.threads},
            "errors": errors,
            "server log errors": log_errors[:20],
            "checks": failures or "all passed",
        },
    )  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    run_main(main)
