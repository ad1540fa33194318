"""Date ranges for reports: half-open UTC intervals [since, until).

A bare date means a whole UTC day: `since=2026-11-01` starts at its midnight,
`until=2026-11-21` ends at the midnight after it, so the 21st is included.
A datetime is taken as given (UTC when it has no offset); `until` is exclusive.
Both the API and the admin dashboard read ranges through `resolve_range`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

UTC = dt.UTC
_PLUS_AS_SPACE = re.compile(
    r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$"
)
ONE_DAY = dt.timedelta(days=1)
# Longer ranges are refused: every figure is computed on request.
MAX_RANGE_DAYS = 366
# Bounds outside these years are refused (they only overflow date arithmetic).
MIN_YEAR, MAX_YEAR = 1900, 9998


class RangeError(ValueError):
    """A bound that cannot be read, or a range that cannot be used. `field` is
    the offending parameter (None for the pair), `code` an API.md detail code."""

    def __init__(self, field: str | None, code: str, message: str):
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DateRange:
    since: dt.datetime  # inclusive, aware
    until: dt.datetime  # exclusive, aware

    @classmethod
    def day(cls, day: dt.date) -> DateRange:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=UTC)
        return cls(start, start + ONE_DAY)

    @classmethod
    def today(cls, now: dt.datetime | None = None) -> DateRange:
        return cls.day((now or timezone.now()).astimezone(UTC).date())

    @property
    def first_day(self) -> dt.date:
        return self.since.astimezone(UTC).date()

    @property
    def last_day(self) -> dt.date:
        """The UTC day holding the last instant of the range."""
        end = max(self.since, self.until - dt.timedelta(microseconds=1))
        return end.astimezone(UTC).date()

    @property
    def days(self) -> list[dt.date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=n) for n in range(count)]

    @property
    def is_whole_days(self) -> bool:
        return all(b.astimezone(UTC).time() == dt.time.min for b in (self.since, self.until)) and (
            self.until > self.since
        )

    def __str__(self) -> str:
        if self.is_whole_days:
            if self.first_day == self.last_day:
                return f"{self.first_day:%Y-%m-%d} (UTC)"
            return f"{self.first_day:%Y-%m-%d} to {self.last_day:%Y-%m-%d} (UTC)"
        return f"{self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} (UTC)"


def parse_bound(text: str, *, field: str) -> tuple[dt.datetime, bool]:
    """→ (the instant in UTC, whether it was a bare date). Raises RangeError."""
    text = (text or "").strip()
    # An unencoded "+05:30" in a query string arrives as " 05:30".
    text = _PLUS_AS_SPACE.sub(r"\1+\2", text)
    moment, is_date = None, False
    try:
        day = parse_date(text)
        if day is not None:
            moment, is_date = dt.datetime.combine(day, dt.time.min, tzinfo=UTC), True
        else:
            moment = parse_datetime(text)
            if moment is not None:
                if timezone.is_naive(moment):
                    moment = moment.replace(tzinfo=UTC)
                moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # well formed but impossible, such as 2026-02-30
        moment = None
    if moment is None:
        raise RangeError(
            field,
            "INVALID_DATE",
            f"`{field}` must be an ISO 8601 date (2026-11-21) or datetime (2026-11-21T10:00:00Z).",
        )
    _check_year(moment, field)
    return moment, is_date


def _check_year(moment: dt.datetime, field: str) -> None:
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise RangeError(
            field, "INVALID_DATE", f"`{field}` must fall between {MIN_YEAR} and {MAX_YEAR}."
        )


def resolve_range(
    since: str | None, until: str | None, *, now: dt.datetime | None = None
) -> DateRange:
    """Both omitted: today (UTC). `until` omitted: up to the end of today.
    `since` omitted: from the start of the UTC day the range ends in."""
    now = now or timezone.now()
    start = end = None
    until_is_date = False
    if since not in (None, ""):
        start, _ = parse_bound(since, field="since")
    if until not in (None, ""):
        end, until_is_date = parse_bound(until, field="until")
        if until_is_date:
            end += ONE_DAY  # the whole day is included
    if end is None:
        end = DateRange.today(now).until
    if start is None:
        start = dt.datetime.combine(
            (end - dt.timedelta(microseconds=1)).astimezone(UTC).date(), dt.time.min, tzinfo=UTC
        )
    # Equal datetimes make an empty range; a `since` on a later day than a date `until` is refused.
    if start > end or (until_is_date and start >= end):
        raise RangeError(
            "until",
            "INVALID_RANGE",
            "`since` must not be after `until` (the end of today when omitted).",
        )
    if end - start > dt.timedelta(days=MAX_RANGE_DAYS):
        raise RangeError(None, "RANGE_TOO_LONG", f"A report covers at most {MAX_RANGE_DAYS} days.")
    return DateRange(start, end)
