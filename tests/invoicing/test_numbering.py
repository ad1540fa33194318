import threading

import pytest
from django.db import connection, transaction

from invoicing.models import DocumentCounter
from invoicing.services.numbering import document_number_take


@pytest.mark.django_db
def test_numbers_are_per_market_kind_and_year():
    with transaction.atomic():
        assert document_number_take(market="US", kind="invoice", year=2026)[1] == (
            "INV-US-2026-000001"
        )
        assert document_number_take(market="US", kind="invoice", year=2026)[0] == 2
        assert document_number_take(market="IN", kind="credit_note", year=2026)[1] == (
            "CN-IN-2026-000001"
        )


@pytest.mark.django_db
def test_a_rollback_gives_the_number_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        document_number_take(market="US", kind="invoice", year=2026)
        raise RuntimeError("insert failed")
    with transaction.atomic():
        assert document_number_take(market="US", kind="invoice", year=2026)[0] == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_takers_get_one_to_n_without_gaps_or_duplicates():
    taken: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def take():
        try:
            start.wait()
            for _ in range(5):
                with transaction.atomic():
                    taken.append(document_number_take(market="PH", kind="invoice", year=2026)[0])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(taken) == list(range(1, 41))
    assert DocumentCounter.objects.get(market="PH").last_number == 40
