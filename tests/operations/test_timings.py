"""Step timings: one per order and step (a retry overwrites), and their percentiles."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from operations.models import StepTiming
from operations.selectors import _percentiles_python, _percentiles_sql
from operations.services import timing_percentiles, timing_record, timings_record

pytestmark = pytest.mark.django_db


def test_recording_a_step_again_overwrites_it(bare_orders):
    (order,) = bare_orders(1)
    timing_record(order_id=order.pk, step="payment", milliseconds=900)
    timing_record(order_id=order.pk, step="payment", milliseconds=1200.5)
    timing_record(order_id=order.pk, step="confirmation", milliseconds=timedelta(seconds=2))
    assert dict(StepTiming.objects.values_list("step", "milliseconds")) == {
        "payment": 1200.5,
        "confirmation": 2000.0,
    }


def test_odd_durations_never_raise(bare_orders):
    (order,) = bare_orders(1)
    assert timing_record(order_id=order.pk, step="queue_wait", milliseconds=-3).milliseconds == 0
    assert timing_record(order_id=order.pk, step="validation", milliseconds=math.nan) is None
    assert timing_record(order_id=order.pk, step="validation", milliseconds="fast") is None
    assert not StepTiming.objects.filter(step="validation").exists()


def test_several_steps_in_one_write_skip_only_the_bad_value(bare_orders):
    (order,) = bare_orders(1)
    timing_record(order_id=order.pk, step="payment", milliseconds=5)
    written = timings_record(
        order_id=order.pk,
        timings={"queue_wait": timedelta(milliseconds=40), "payment": 900, "confirmation": "x"},
    )
    assert sorted(t.step for t in written) == ["payment", "queue_wait"]
    assert dict(StepTiming.objects.values_list("step", "milliseconds")) == {
        "queue_wait": 40.0,
        "payment": 900.0,
    }


def test_percentiles_on_known_data(bare_orders):
    orders = bare_orders(10)
    for n, order in enumerate(orders, start=1):
        timing_record(order_id=order.pk, step="payment", milliseconds=n * 10)  # 10 … 100
    timing_record(order_id=orders[0].pk, step="validation", milliseconds=42)
    timing_record(order_id=orders[0].pk, step="zz_custom", milliseconds=7)
    timing_record(order_id=orders[1].pk, step="zz_custom", milliseconds=9)

    stats = timing_percentiles()
    # Known steps first in their usual order, then others.
    assert list(stats) == ["validation", "payment", "zz_custom"]
    assert stats["payment"] == {"p50": 55.0, "p90": 91.0, "p99": 99.1, "count": 10}
    assert stats["validation"] == {"p50": 42.0, "p90": 42.0, "p99": 42.0, "count": 1}
    assert stats["zz_custom"] == {"p50": 8.0, "p90": 8.8, "p99": 8.98, "count": 2}


def test_percentiles_of_a_time_window(bare_orders):
    orders = bare_orders(4)
    for n, order in enumerate(orders, start=1):
        timing_record(order_id=order.pk, step="confirmation", milliseconds=n * 1000)
    now = timezone.now()
    # Test data: the first two were recorded two days ago.
    StepTiming.objects.filter(order__in=orders[:2]).update(recorded_at=now - timedelta(days=2))

    recent = timing_percentiles(since=now - timedelta(days=1))
    assert recent["confirmation"]["count"] == 2
    assert recent["confirmation"]["p50"] == 3500.0
    old = timing_percentiles(until=now - timedelta(days=1))
    assert old["confirmation"] == {"p50": 1500.0, "p90": 1900.0, "p99": 1990.0, "count": 2}
    assert timing_percentiles(since=now + timedelta(minutes=1)) == {}


def test_the_sqlite_fallback_matches_postgresql(bare_orders):
    orders = bare_orders(7)
    for order, ms in zip(orders, [5, 1, 300, 42.5, 17, 17, 2500], strict=True):
        timing_record(order_id=order.pk, step="queue_wait", milliseconds=ms)
        timing_record(order_id=order.pk, step="payment", milliseconds=ms * 3)
    from django.db import connection

    assert connection.vendor == "postgresql"
    since = timezone.now() - timedelta(hours=1)
    assert _percentiles_python(since=since, until=None) == _percentiles_sql(
        connection, since=since, until=None
    )
