"""core.validation: input serializers built once per thread and reused, giving
the same answers as a new DRF serializer per request."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.errors import ValidationFailed
from core.exceptions import flatten_serializer_errors
from core.validation import _serializer, validate_input
from orders.serializers import ORDER_INPUT_CODES, OrderPlaceInputSerializer


def _body(n: int = 1, **over) -> dict:
    body = {
        "market": "US",
        "items": [{"sku": f"SKU-{n}", "quantity": 1 + n % 3}, {"sku": "SKU-X", "quantity": 2}],
        "shipping_method": "standard",
        "shipping_address": {
            "name": f"Customer {n}",
            "phone": "+1 415 555 0100",
            "line1": f"{n} Main St",
            "city": "San Francisco",
            "postal_code": "94105",
            "country": "us",
        },
        "payment_method": "card",
        "payment_token": "tok_visa",
    }
    body.update(over)
    return body


INVALID = [
    _body(items=[]),
    _body(items=[{"sku": "A", "quantity": "2"}]),
    _body(items=[{"sku": "A", "quantity": 0}, {"sku": "", "quantity": 101}]),
    _body(shipping_address={"name": "x"}),
    _body(shipping_address={**_body()["shipping_address"], "phone": "12"}),
    _body(expected_total="not money", promo_code=None),
    {"market": None},
    {},
]


def _fresh(data) -> tuple[dict | None, list[dict] | None]:
    """What DRF's own path says: a new serializer, is_valid()."""
    serializer = OrderPlaceInputSerializer(data=data)
    if serializer.is_valid():
        return serializer.validated_data, None
    return None, flatten_serializer_errors(serializer.errors)


def _reused(data) -> tuple[dict | None, list[dict] | None]:
    try:
        return validate_input(OrderPlaceInputSerializer, data), None
    except ValidationFailed as exc:
        return None, exc.details


@pytest.mark.parametrize("data", [_body(1), _body(2, promo_code="SAVE10"), *INVALID])
def test_answers_as_a_new_serializer_does(data):
    # Twice, with the other inputs in between, so the reused instance has history.
    for _ in range(2):
        for other in INVALID:
            _reused(other)
        assert _reused(data) == _fresh(data)


def test_a_valid_body_after_an_invalid_one_carries_nothing_over():
    with pytest.raises(ValidationFailed) as failed:
        validate_input(OrderPlaceInputSerializer, INVALID[1], codes=ORDER_INPUT_CODES)
    assert [d["code"] for d in failed.value.details] == ["INVALID_QUANTITY"]
    first = validate_input(OrderPlaceInputSerializer, _body(1))
    second = validate_input(OrderPlaceInputSerializer, _body(2))
    assert first is not second
    assert first["shipping_address"]["name"] == "Customer 1"
    assert second["shipping_address"]["name"] == "Customer 2"
    assert first["shipping_address"]["phone"] == "+14155550100"
    assert first["shipping_address"]["country"] == "US"


def test_one_instance_per_class_and_thread():
    mine = _serializer(OrderPlaceInputSerializer)
    assert _serializer(OrderPlaceInputSerializer) is mine
    with ThreadPoolExecutor(1) as pool:
        theirs = pool.submit(_serializer, OrderPlaceInputSerializer).result()
    assert theirs is not mine
    assert isinstance(theirs, OrderPlaceInputSerializer)


def test_threads_validating_at_once_each_get_their_own_answer():
    start = threading.Barrier(8)

    def run(worker: int) -> list[bool]:
        start.wait()
        outcomes = []
        for i in range(200):
            n = worker * 1000 + i
            if i % 3 == 0:
                outcomes.append(
                    _reused(INVALID[i % len(INVALID)]) == _fresh(INVALID[i % len(INVALID)])
                )
                continue
            data = validate_input(OrderPlaceInputSerializer, _body(n))
            outcomes.append(
                data["shipping_address"]["name"] == f"Customer {n}"
                and data["items"][0] == {"sku": f"SKU-{n}", "quantity": 1 + n % 3}
            )
        return outcomes

    with ThreadPoolExecutor(8) as pool:
        results = [ok for outcomes in pool.map(run, range(8)) for ok in outcomes]
    assert len(results) == 1600
    assert all(results)


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(ValidationFailed) as failed:
        validate_input(OrderPlaceInputSerializer, ["not", "an", "object"])
    assert failed.value.details[0]["code"] == "INVALID"
