"""SMS backends: one interface, chosen by the dotted path in `settings.SMS_BACKEND`.

A real provider (Twilio, MSG91, Semaphore...) plugs in as another SmsBackend
subclass; raising from `send` makes the notification retry with backoff."""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass

from django.utils.module_loading import import_string

from .conf import setting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class SmsBackend:
    def send(self, to: str, body: str) -> None:
        """Send `body` to the E.164 number `to`; raise on any failure."""
        raise NotImplementedError


class ConsoleSmsBackend(SmsBackend):
    """The quick-start default: prints the message, like Django's console email."""

    def send(self, to: str, body: str) -> None:
        logger.info("SMS to %s: %s", to, body)
        sys.stdout.write(f"--- SMS to {to} ---\n{body}\n")
        sys.stdout.flush()


class LocmemSmsBackend(SmsBackend):
    """For tests: keeps every message in the class-wide `outbox` (like mail.outbox)."""

    outbox: list[SmsMessage] = []
    _lock = threading.Lock()

    def send(self, to: str, body: str) -> None:
        with self._lock:
            self.outbox.append(SmsMessage(to=to, body=body))


def get_sms_backend() -> SmsBackend:
    return import_string(setting("SMS_BACKEND"))()
