"""HTTP load generator, run as a child process: `python -m bench.loadgen` reads a
spec as JSON on stdin and writes {"results": [[status, seconds, info], ...],
"elapsed": seconds} on stdout. Knows nothing of Django.

Spec:
  base_url      http://127.0.0.1:PORT
  threads       client threads, each with its own keep-alive connection
  mode          "closed": each thread sends back to back, until `duration`
                seconds have passed or `total` requests were sent;
                "open": requests scheduled at `rate` per second for `duration`,
                latency counted from the scheduled time (so a slow server
                cannot hide its queue by slowing the client down)
  request       {"kind": "place", "tokens": [...], "skus": [...], "lines": 3,
                 "max_quantity": 2}: POST /api/v1/orders/; request k of thread t
                 uses customer (t + k * threads) % len(tokens)
                or {"kind": "get", "targets": [[token, path], ...]}

info is the order number for a 201, the first error detail code (or the error
code) for an error body, the exception name when no response came back."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import select
import sys
import threading
import time
from urllib.parse import urlsplit

TIMEOUT = 120  # seconds; a request given up on may still have placed its order


class Client:
    """One keep-alive HTTP/1.1 connection, reopened when the server closed it
    while idle. Plain http.client, not requests: the load generator shares the
    machine's two cores with what it measures, and requests spent about four
    times the CPU per call. A request that fails is not sent again (a POST may
    have placed its order): it counts as an error."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname, url.port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None, headers: dict):
        if self.conn is not None and _closed_by_server(self.conn):
            self.close()
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _closed_by_server(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable has been closed (or broken)
    by the server: gunicorn drops connections idle for its keepalive seconds."""
    return conn.sock is not None and bool(select.select([conn.sock], [], [], 0)[0])


def place_body(rng: random.Random, spec: dict) -> dict:
    items = [
        {"sku": sku, "quantity": rng.randint(1, spec["max_quantity"])}
        for sku in rng.sample(spec["skus"], spec["lines"])
    ]
    house = rng.randrange(1, 10**7)  # a fresh address: the duplicate-order rule never fires
    return {
        "market": "US",
        "items": items,
        "shipping_method": "standard",
        "shipping_address": {
            "name": f"Bench Buyer {house % 977}",
            "phone": "+14155550100",
            "line1": f"{house} Main St",
            "line2": "",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
        "payment_method": "card",
        "payment_token": "tok_visa",
    }


def info_of(status: int, data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        return ""
    if status < 300:
        return body.get("number", "") if isinstance(body, dict) else ""
    error = body.get("error", {}) if isinstance(body, dict) else {}
    details = error.get("details") or [{}]
    return details[0].get("code") or error.get("code", "")


def send(client: Client, spec: dict, rng: random.Random, t: int, k: int, threads: int):
    headers = {"Accept": "application/json"}
    if spec["kind"] == "place":
        token = spec["tokens"][(t + k * threads) % len(spec["tokens"])]
        method, path, body = "POST", "/api/v1/orders/", json.dumps(place_body(rng, spec)).encode()
        headers["Content-Type"] = "application/json"
    else:
        token, path = rng.choice(spec["targets"])
        method, body = "GET", None
    headers["Authorization"] = f"Token {token}"
    return client.request(method, path, body, headers)


def run_threads(worker, count: int) -> list[list]:
    """Run worker(t) for t in range(count) in threads; concatenate what they return.
    A thread that dies makes the whole run fail (rather than quietly measure less)."""
    results: list[list] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()

    def wrapped(t: int) -> None:
        try:
            mine = worker(t)
        except BaseException as exc:
            crashed.append(exc)
            raise
        with lock:
            results.extend(mine)

    pool = [threading.Thread(target=wrapped, args=(t,), daemon=True) for t in range(count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if crashed:
        raise RuntimeError(f"{len(crashed)} client threads died, first: {crashed[0]!r}")
    return results


def run(spec: dict) -> dict:
    threads, request = spec["threads"], spec["request"]
    duration, total = spec.get("duration"), spec.get("total")
    rate, is_open = spec.get("rate"), spec["mode"] == "open"
    if is_open:
        total = int(rate * duration)
    tickets = itertools.count()  # next() on it is atomic in CPython
    start = time.perf_counter() + 0.2  # let every thread get ready
    deadline = start + duration if duration and not is_open else float("inf")

    def worker(t: int) -> list[list]:
        rng = random.Random(f"{spec.get('seed', 0)}-{t}")
        client = Client(spec["base_url"])
        mine = []
        for k in itertools.count():
            ticket = next(tickets)
            if total is not None and ticket >= total:
                break
            if is_open:
                began = start + ticket / rate
                time.sleep(max(0.0, began - time.perf_counter()))
            else:
                time.sleep(max(0.0, start - time.perf_counter()))
                began = time.perf_counter()
                if began >= deadline:
                    break
            try:
                status, data = send(client, request, rng, t, k, threads)
                info = info_of(status, data)
            except (OSError, http.client.HTTPException) as exc:
                status, info = 0, type(exc).__name__
            mine.append([status, time.perf_counter() - began, info])
        client.close()
        return mine

    return {"results": run_threads(worker, threads), "elapsed": time.perf_counter() - start}


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
