"""Processing errors: one row per failing step and object, counted; recorded even
when the caller's transaction rolls back; resolved with who, when and a note."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from core.errors import NotFound, ValidationFailed
from operations import services
from operations.models import ProcessingError
from operations.services import (
    error_record,
    error_resolve,
    error_resolve_on_success,
    errors_for_order,
)
from orders.models import Order
from tests.factories import StaffFactory, UserFactory


def record(**overrides) -> ProcessingError | None:
    values = {
        "category": "shipping",
        "step": "shipment_ship",
        "message": "Carrier timed out",
        "reference": "SHP-000001",
    }
    return error_record(**{**values, **overrides})


# --- dedupe ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_failure_again_counts_attempts_on_one_row():
    first = record(message="Carrier timed out", details={"try": 1})
    first_seen = first.first_seen_at
    again = record(message="Carrier answered 502", severity="critical", details={"try": 2})

    assert ProcessingError.objects.count() == 1
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.attempts == 2
    assert again.first_seen_at == first_seen
    assert again.last_seen_at > first_seen
    # The latest occurrence is what ops read.
    assert again.message == "Carrier answered 502"
    assert again.severity == "critical"
    assert again.details == {"try": 2}

    record()
    assert ProcessingError.objects.get().attempts == 3


@pytest.mark.django_db
def test_another_object_step_or_category_is_another_row(order):
    record()
    record(reference="SHP-000002")
    record(step="shipment_deliver")
    record(category="external_api")
    record(reference="", order=order)
    record(reference="", order_id=order.pk)  # the same as the line above
    assert ProcessingError.objects.count() == 5
    assert ProcessingError.objects.get(order=order).attempts == 2


@pytest.mark.django_db
def test_without_an_object_the_message_tells_failures_apart():
    record(category="import_validation", step="csv_import", reference="", message="row 3: bad SKU")
    record(category="import_validation", step="csv_import", reference="", message="row 3: bad SKU")
    record(category="import_validation", step="csv_import", reference="", message="row 9: no qty")
    assert sorted(ProcessingError.objects.values_list("message", "attempts")) == [
        ("row 3: bad SKU", 2),
        ("row 9: no qty", 1),
    ]


@pytest.mark.django_db
def test_a_resolved_error_that_happens_again_opens_a_new_row():
    first = record()
    error_resolve(error_id=first.pk, actor=None, note="carrier back up")
    again = record()
    assert again.pk != first.pk
    assert again.attempts == 1 and not again.resolved
    first.refresh_from_db()
    assert first.resolved and first.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_occurrences_make_one_row():
    barrier = threading.Barrier(4)

    def worker():
        try:
            barrier.wait(timeout=5)
            record()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    error = ProcessingError.objects.get()
    assert error.attempts == 4


# --- never raises ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_odd_input_is_recorded_not_refused():
    class Unserializable:
        def __str__(self):
            return "<thing>"

    error = error_record(
        category="gremlins",
        severity="apocalyptic",
        step="",
        message=ValueError("boom"),
        order_id="not-a-number",
        details={"when": timezone.now(), "amount": Decimal("1.50"), "thing": Unserializable()},
    )
    error.refresh_from_db()
    assert error.category == "other" and error.severity == "error"
    assert error.step == "unknown" and error.message == "boom"
    assert error.order_id is None
    assert error.details["category"] == "gremlins"
    assert error.details["severity"] == "apocalyptic"
    assert error.details["order_id"] == "not-a-number"
    assert error.details["amount"] == "1.50" and error.details["thing"] == "<thing>"
    assert error_record(category="other", step="x", message="plain", details=[1, 2]).details == {
        "value": [1, 2]
    }


@pytest.mark.django_db
def test_a_database_failure_is_logged_not_raised(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(services, "_error_upsert", broken)
    with caplog.at_level(logging.ERROR, logger="operations.services"):
        assert record(message="Carrier timed out for SHP-000001") is None
    assert "Carrier timed out for SHP-000001" in caplog.text  # nothing is lost from the log
    assert "disk full" in caplog.text


# --- survives the caller's rollback (PostgreSQL) -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_error_recorded_in_a_transaction_survives_its_rollback():
    with pytest.raises(RuntimeError), transaction.atomic():
        UserFactory(username="rolled-back")
        recorded = record(message="stock reservation failed")
        raise RuntimeError("the caller gives up")

    assert not get_user_model().objects.filter(username="rolled-back").exists()
    error = ProcessingError.objects.get()
    assert error.pk == recorded.pk and error.message == "stock reservation failed"
    # The returned object is usable on the normal connection afterwards.
    recorded.refresh_from_db()
    assert services.SIDE_ALIAS not in connections.settings
    assert not hasattr(connections._connections, services.SIDE_ALIAS)


@pytest.mark.django_db(transaction=True)
def test_recorded_from_a_transaction_the_database_already_aborted():
    user = UserFactory(username="taken")
    with pytest.raises(RuntimeError), transaction.atomic():
        try:
            get_user_model().objects.create(username=user.username)  # unique violation
        except IntegrityError as exc:
            # The caller's transaction is now unusable; the error is still recorded.
            record(category="other", step="user_import", message=str(exc), reference="taken")
            raise RuntimeError("rolled back") from exc
    assert ProcessingError.objects.filter(step="user_import", reference="taken").exists()


@pytest.mark.django_db(transaction=True)
def test_recording_for_an_order_the_caller_holds_locked_does_not_wait(order):
    started = time.monotonic()
    with pytest.raises(RuntimeError), transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        record(category="payment", step="order_confirm", reference="", order=locked)
        raise RuntimeError("payment step failed")
    assert time.monotonic() - started < 1.5  # no wait on the caller's row lock
    assert list(errors_for_order(order.pk).values_list("step", flat=True)) == ["order_confirm"]


@pytest.mark.django_db(transaction=True)
def test_an_error_for_an_order_created_in_the_same_transaction_stays_linked(place_order):
    with transaction.atomic():
        order = place_order()
        record(category="notification", step="notify_placed", reference="", order=order)
    error = ProcessingError.objects.select_related("order").get()
    assert error.order == order


@pytest.mark.django_db
def test_outside_the_callers_transaction_it_is_written_on_its_own_connection(monkeypatch):
    """Inside a plain test (no atomic block of the caller's) the normal connection
    is used, so tests stay isolated; the side connection is only for atomic blocks."""

    def no_side(using):
        raise AssertionError("side connection used")

    monkeypatch.setattr(services, "_side_connection", no_side)
    assert record() is not None


# --- resolving ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_resolve_records_who_when_and_note():
    staff = StaffFactory()
    error = record()
    before = timezone.now()
    resolved = error_resolve(error_id=error.pk, actor=staff, note="  re-sent manually ")
    resolved.refresh_from_db()
    assert resolved.resolved is True
    assert resolved.resolved_by == staff
    assert before <= resolved.resolved_at <= timezone.now()
    assert resolved.resolution_note == "re-sent manually"

    # Again: nothing changes.
    later = error_resolve(error_id=error.pk, actor=StaffFactory(), note="other note")
    assert later.resolved_by == staff and later.resolution_note == "re-sent manually"


@pytest.mark.django_db
def test_resolve_needs_a_note_and_an_existing_error():
    error = record()
    with pytest.raises(ValidationFailed):
        error_resolve(error_id=error.pk, actor=None, note="   ")
    with pytest.raises(NotFound):
        error_resolve(error_id=error.pk + 1000, actor=None, note="x")
    error.refresh_from_db()
    assert not error.resolved


@pytest.mark.django_db
def test_a_later_success_resolves_that_steps_open_errors(order):
    record(category="payment", step="order_confirm", reference="", order=order)
    record(category="external_api", step="order_confirm", reference="", order=order)
    other_step = record(category="notification", step="notify", reference="", order=order)
    other_object = record(step="order_confirm")

    assert error_resolve_on_success(step="order_confirm", order=order) == 2
    assert not errors_for_order(order.pk, unresolved_only=True).exclude(pk=other_step.pk).exists()
    resolved = errors_for_order(order.pk).filter(resolved=True).first()
    assert resolved.resolved_by is None and resolved.resolution_note
    other_object.refresh_from_db()
    assert not other_object.resolved
    assert error_resolve_on_success(step="order_confirm") == 0  # no object: nothing to match


@pytest.mark.django_db
def test_a_later_success_can_resolve_only_some_categories(order):
    declined = record(category="payment", step="order_confirm", reference="", order=order)
    timeout = record(category="external_api", step="order_confirm", reference="", order=order)
    resolved = error_resolve_on_success(
        step="order_confirm", order=order, categories=("external_api",)
    )
    assert resolved == 1
    declined.refresh_from_db()
    timeout.refresh_from_db()
    assert timeout.resolved and not declined.resolved


@pytest.mark.django_db
def test_errors_for_order_lists_open_ones_first_newest_first(place_order):
    order, other = place_order(), place_order()
    old = record(category="payment", step="a", reference="", order=order)
    ProcessingError.objects.filter(pk=old.pk).update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )
    new = record(category="payment", step="b", reference="", order=order)
    done = record(category="payment", step="c", reference="", order=order)
    error_resolve(error_id=done.pk, actor=None, note="ok")
    record(category="payment", step="a", reference="", order=other)

    assert list(errors_for_order(order.pk)) == [new, old, done]
    assert list(errors_for_order(order.pk, unresolved_only=True)) == [new, old]
