"""Test doubles: an email backend that fails on demand, and a real HTTP receiver."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemEmailBackend
from django.utils import timezone


class FlakyEmailBackend(BaseEmailBackend):
    """Raises like an unreachable SMTP server while `failing`; otherwise delivers to
    Django's locmem outbox. `calls` records when each send was attempted."""

    failing = True
    delay = 0.0
    calls: list[datetime] = []

    @classmethod
    def reset(cls, *, failing: bool = True, delay: float = 0.0) -> None:
        cls.failing = failing
        cls.delay = delay
        cls.calls = []

    def send_messages(self, email_messages):
        FlakyEmailBackend.calls.append(timezone.now())
        if self.delay:
            threading.Event().wait(self.delay)
        if FlakyEmailBackend.failing:
            raise ConnectionRefusedError("[Errno 111] SMTP server refused the connection")
        return LocmemEmailBackend().send_messages(email_messages)


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes


@dataclass
class Receiver:
    """An integrator's endpoint: answers `statuses` in turn, then `default_status`."""

    url: str = ""
    default_status: int = 200
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.default_status


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.requests.append(Received(path=self.path, headers=self.headers, body=body))
            status = receiver.next_status()
            answer = b'{"received": true}' if status < 300 else b'{"error": "boom"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/orderly"
    return server
