"""Settings this app reads, each with its default, and the retry policy they make.

Read at call time (not import time) so tests and operators can change them with
`override_settings` / the environment without reloading modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

DEFAULTS = {
    "NOTIFY_RETRY_BASE_SECONDS": 30,
    "NOTIFY_MAX_ATTEMPTS": 5,
    "WEBHOOK_RETRY_BASE_SECONDS": 30,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_TIMEOUT_SECONDS": 5,
    "SMS_BACKEND": "notifications.sms.ConsoleSmsBackend",
    # The beat safety net only picks up rows overdue by this much: a row that is
    # merely "due now" normally has its countdown task on the way already.
    "NOTIFY_RETRY_GRACE_SECONDS": 60,
    # A drain is queued this long after the commit that asks for it, so that
    # the e-mails of every order confirmed meanwhile go out in one task (and
    # one SMTP session) instead of one task each.
    "NOTIFY_DRAIN_DELAY_SECONDS": 1.0,
    # Delivered outbound webhooks (and their attempt logs) are purged after this.
    "WEBHOOK_LOG_RETENTION_DAYS": 30,
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with a cap on attempts: after the n-th failed attempt wait
    base × 2^(n-1) seconds (30, 60, 120, ...); after `max_attempts` failures, give up."""

    base_seconds: int
    max_attempts: int

    def delay(self, attempts: int) -> int | None:
        """Seconds to wait after `attempts` failed attempts, or None when the cap is hit."""
        if attempts >= self.max_attempts:
            return None
        return self.base_seconds * 2 ** max(attempts - 1, 0)

    def next_attempt_at(self, attempts: int, at: datetime) -> datetime | None:
        delay = self.delay(attempts)
        return None if delay is None else at + timedelta(seconds=delay)


def notification_backoff() -> Backoff:
    return Backoff(
        base_seconds=int(setting("NOTIFY_RETRY_BASE_SECONDS")),
        max_attempts=max(int(setting("NOTIFY_MAX_ATTEMPTS")), 1),
    )


def webhook_backoff() -> Backoff:
    return Backoff(
        base_seconds=int(setting("WEBHOOK_RETRY_BASE_SECONDS")),
        max_attempts=max(int(setting("WEBHOOK_MAX_ATTEMPTS")), 1),
    )
