"""Reading report ranges: dates are whole UTC days, datetimes exact, [since, until)."""

from __future__ import annotations

import datetime as dt

import pytest

from reports.ranges import DateRange, RangeError, resolve_range

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, (utc(2026, 11, 21), utc(2026, 11, 22))),  # today
        ("2026-11-01", "2026-11-21", (utc(2026, 11, 1), utc(2026, 11, 22))),
        ("2026-11-21", "2026-11-21", (utc(2026, 11, 21), utc(2026, 11, 22))),
        ("2026-11-01", None, (utc(2026, 11, 1), utc(2026, 11, 22))),  # to the end of today
        (None, "2026-11-10", (utc(2026, 11, 10), utc(2026, 11, 11))),  # that day
        (None, "2026-11-10T06:00:00Z", (utc(2026, 11, 10), utc(2026, 11, 10, 6))),
        ("2026-11-21T09:00", "2026-11-21T12:00:00Z", (utc(2026, 11, 21, 9), utc(2026, 11, 21, 12))),
        ("2026-11-21T14:30:00+05:30", "2026-11-21T12:00Z", (utc(2026, 11, 21, 9), utc(2026, 11, 21, 12))),
        # "+05:30" sent unencoded in a query string arrives as " 05:30".
        ("2026-11-21T14:30:00 05:30", "2026-11-21T12:00Z", (utc(2026, 11, 21, 9), utc(2026, 11, 21, 12))),
        ("2026-11-21T12:00Z", "2026-11-21T12:00Z", (utc(2026, 11, 21, 12), utc(2026, 11, 21, 12))),
        ("2026-11-21T12:00Z", "2026-11-21", (utc(2026, 11, 21, 12), utc(2026, 11, 22))),
    ],
)  # fmt: skip
def test_resolve_range(since, until, expected):
    period = resolve_range(since, until, now=NOW)
    assert (period.since, period.until) == expected


@pytest.mark.parametrize(
    ("since", "until", "field", "code"),
    [
        ("2026-11-22", "2026-11-21", "until", "INVALID_RANGE"),
        ("2026-11-22T00:00Z", "2026-11-21", "until", "INVALID_RANGE"),
        ("2026-12-01", None, "until", "INVALID_RANGE"),  # after the end of today
        ("2026-13-01", None, "since", "INVALID_DATE"),
        ("", "soon", "until", "INVALID_DATE"),
        ("2025-01-01", "2026-11-21", None, "RANGE_TOO_LONG"),
    ],
)
def test_refused_ranges(since, until, field, code):
    with pytest.raises(RangeError) as caught:
        resolve_range(since, until, now=NOW)
    assert (caught.value.field, caught.value.code) == (field, code)


def test_labels_and_days():
    period = DateRange(utc(2026, 11, 20), utc(2026, 11, 22))
    assert str(period) == "2026-11-20 to 2026-11-21 (UTC)"
    assert period.days == [dt.date(2026, 11, 20), dt.date(2026, 11, 21)]
    assert str(DateRange.today(NOW)) == "2026-11-21 (UTC)"
    assert str(DateRange(utc(2026, 11, 21, 9), utc(2026, 11, 21, 12))) == (
        "2026-11-21 09:00 to 2026-11-21 12:00 (UTC)"
    )
