"""The raw-SQL limit, run as a child process (`python -m bench.rawsql`, spec as
JSON on stdin, {"results": [[status, seconds, info], ...], "elapsed"} on
stdout): Orderly's placing transaction written straight in SQL through psycopg,
one connection per thread, back to back for `duration` seconds.

The transaction: lock the 3 stock rows in id order, reserve (one UPDATE),
insert the order (its number from the id sequence), 3 lines, 3 reservations,
1 audit row; unless spec["minimal"], also the payment and the 3 ledger rows
that Orderly writes in the same transaction. status 201 = committed,
400 = not enough stock (rolled back), 0 = a database error (info: its class).

Spec: dsn, threads, duration, minimal, customer_ids, market_id, and products:
[{"id", "sku", "name", "price", "level_id", "warehouse_id"}, ...]."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from bench.loadgen import run_threads

CENT = Decimal("0.01")
LOCK = (
    "SELECT id, on_hand - reserved FROM inventory_stocklevel"
    " WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
)
RESERVE = (
    "UPDATE inventory_stocklevel s SET reserved = s.reserved + v.q, updated_at = now()"
    " FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::int[]) AS q) v WHERE s.id = v.id"
)
ORDER = """
INSERT INTO orders_order (
    id, number, customer_id, market_id, currency, status, subtotal, discount, shipping,
    tax, total, tax_rate, prices_include_tax, tax_exempt, promo_code, shipping_method,
    shipping_address, payment_method, payment_status, source, channel, client_ip,
    user_agent, risk_reasons, cancel_reason, hold_resume_status, created_at, updated_at)
SELECT n, 'US-' || lpad(n::text, greatest(6, length(n::text)), '0'), %s, %s, 'USD', 'pending', %s, 0, %s,
    %s, %s, 0.0800, false, false, '', 'standard',
    %s, 'card', 'pending', 'api', '', '127.0.0.1',
    'bench-raw', '[]', '', '', now(), now()
FROM nextval(pg_get_serial_sequence('orders_order', 'id')) AS n
RETURNING id, number"""
LINES = (
    "INSERT INTO orders_orderline (order_id, product_id, sku, name, quantity, unit_price,"
    " line_total, quantity_shipped, quantity_returned) VALUES {} RETURNING id"
)
LINE_VALUES = "(%s, %s, %s, %s, %s, %s, %s, 0, 0)"
RESERVATIONS = (
    "INSERT INTO inventory_reservation (order_line_id, stock_level_id, quantity,"
    " quantity_fulfilled, status, expires_at, created_at, updated_at) VALUES {}"
)
RESERVATION_VALUES = "(%s, %s, %s, 0, 'active', now() + interval '30 minutes', now(), now())"
EVENT = (
    "INSERT INTO orders_orderevent (order_id, from_status, to_status, actor_id, actor_name,"
    " reason, staff_only, at) VALUES (%s, '', 'pending', %s, %s, 'placed', false, now())"
)
PAYMENT = """
INSERT INTO payments_payment (
    uid, order_id, gateway, method, token, currency, amount, amount_authorized,
    amount_captured, amount_refunded, reference, decline_code, failure_message,
    void_reason, status, created_at, updated_at)
VALUES (gen_random_uuid(), %s, 'test', 'card', 'tok_visa', 'USD', %s, 0,
    0, 0, '', '', '', '', 'pending', now(), now())"""
MOVEMENTS = (
    "INSERT INTO inventory_stockmovement (product_id, warehouse_id, kind, on_hand_delta,"
    " reserved_delta, actor_id, reason, reference, created_at) VALUES {}"
)
MOVEMENT_VALUES = "(%s, %s, 'reservation', 0, %s, %s, 'reserved for order', %s, now())"


class Shortage(Exception):
    pass


def place(conn: psycopg.Connection, rng: random.Random, spec: dict) -> tuple[int, str]:
    picked = sorted(rng.sample(spec["products"], 3), key=lambda p: p["level_id"])
    qty = [rng.randint(1, 2) for _ in picked]
    customer = rng.choice(spec["customer_ids"])
    subtotal = sum(Decimal(p["price"]) * q for p, q in zip(picked, qty, strict=True))
    shipping = Decimal("0.00") if subtotal >= 50 else Decimal("5.99")
    tax = (subtotal * Decimal("0.08")).quantize(CENT)
    house = rng.randrange(1, 10**7)
    address = {"name": "Bench Buyer", "phone": "+14155550100", "line1": f"{house} Main St",
               "line2": "", "city": "Springfield", "region": "IL", "postal_code": "62701",
               "country": "US"}  # fmt: skip
    level_ids = [p["level_id"] for p in picked]
    with conn.transaction(), conn.cursor() as cur:
        available = dict(cur.execute(LOCK, (level_ids,)).fetchall())
        if any(available[p["level_id"]] < q for p, q in zip(picked, qty, strict=True)):
            raise Shortage
        cur.execute(RESERVE, (level_ids, qty))
        order_id, number = cur.execute(
            ORDER,
            (customer, spec["market_id"], subtotal, shipping, tax,
             subtotal + shipping + tax, Jsonb(address)),
        ).fetchone()  # fmt: skip
        lines = cur.execute(
            LINES.format(", ".join([LINE_VALUES] * 3)),
            [v for p, q in zip(picked, qty, strict=True)
             for v in (order_id, p["id"], p["sku"], p["name"], q, Decimal(p["price"]),
                       Decimal(p["price"]) * q)],
        ).fetchall()  # fmt: skip
        cur.execute(
            RESERVATIONS.format(", ".join([RESERVATION_VALUES] * 3)),
            [
                v
                for (line_id,), p, q in zip(lines, picked, qty, strict=True)
                for v in (line_id, p["level_id"], q)
            ],
        )
        if not spec["minimal"]:
            cur.execute(PAYMENT, (order_id, subtotal + shipping + tax))
            cur.execute(
                MOVEMENTS.format(", ".join([MOVEMENT_VALUES] * 3)),
                [v for p, q in zip(picked, qty, strict=True)
                 for v in (p["id"], p["warehouse_id"], q, customer, number)],
            )  # fmt: skip
        cur.execute(EVENT, (order_id, customer, f"bench-{customer}"))
    return 201, number


def run(spec: dict) -> dict:
    times = {}
    ready = threading.Barrier(  # the clock starts when every connection is open
        spec["threads"], action=lambda: times.setdefault("start", time.perf_counter())
    )

    def worker(t: int) -> list[list]:
        rng = random.Random(f"raw-{t}")
        mine = []
        try:
            conn = psycopg.connect(spec["dsn"], connect_timeout=10)
        except psycopg.Error:
            ready.abort()
            raise
        with conn:
            ready.wait()
            deadline = times["start"] + spec["duration"]
            while (began := time.perf_counter()) < deadline:
                try:
                    status, info = place(conn, rng, spec)
                except Shortage:
                    status, info = 400, "INSUFFICIENT_STOCK"
                except psycopg.Error as exc:
                    status, info = 0, type(exc).__name__
                mine.append([status, time.perf_counter() - began, info])
        return mine

    results = run_threads(worker, spec["threads"])
    return {"results": results, "elapsed": time.perf_counter() - times["start"]}


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
