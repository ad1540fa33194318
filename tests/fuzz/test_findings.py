"""Plain regression tests for what the schema fuzzer (test_schema_fuzz.py) found.

Each test is one finding, reduced to the smallest request that shows it, and
asserts what the API should answer (API.md: no 5xx for bad input, errors in the
`{"error": {...}}` shape, the schema telling the truth). They fail until the
finding is fixed; the report that came with them names the file and fix."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from payments.models import Payment
from tests.fuzz.world import US_ADDRESS, sign

pytestmark = pytest.mark.django_db

SECRETS = {
    "carrier": {"test": "s-carrier"},
    "gateway": {"test": "s-gateway"},
    "channel": {"tiktok": "s-channel"},
}


@pytest.fixture
def seeded():
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def secrets(settings):
    settings.WEBHOOK_SECRETS = SECRETS
    return SECRETS


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert body["error"]["code"] == code, body
    return body


def signed_post(api, url: str, body, secret: str):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post(
        url, data=raw, content_type="application/json", HTTP_X_ORDERLY_SIGNATURE=sign(raw, secret)
    )


def place_confirmed_order(customer_api, on_commit) -> str:
    body = {
        "market": "US",
        "items": [{"sku": "TSHIRT-RED-M", "quantity": 1}],
        "shipping_method": "standard",
        "shipping_address": US_ADDRESS,
        "payment_method": "card",
        "payment_token": "tok_visa",
    }
    with on_commit(execute=True):  # the eager confirmation worker authorizes the payment
        response = customer_api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["number"]


def shipped_with_test_carrier(customer_api, staff_api, on_commit) -> str:
    """A confirmed order's shipment, shipped with the `test` carrier: its tracking number."""
    number = place_confirmed_order(customer_api, on_commit)
    with on_commit(execute=True):
        created = staff_api.post(
            f"/api/v1/orders/{number}/shipments/",
            {"items": [{"sku": "TSHIRT-RED-M", "quantity": 1}]},
            format="json",
        )
        assert created.status_code == 201, created.content
        shipped = staff_api.post(
            f"/api/v1/shipments/{created.json()['number']}/ship/",
            {"carrier": "test", "tracking_number": "TRK-F9"},
            format="json",
        )
    assert shipped.status_code == 200, shipped.content
    return "TRK-F9"


# --- F1: NUL in a public number in the path → 500 instead of 404 ------------------------
# orders/selectors.py order_get, fulfillment/selectors.py shipment_get and
# order_get_for_fulfillment, returns/selectors.py return_get pass the number straight
# to PostgreSQL, which refuses NUL in text (DataError → 500 INTERNAL_ERROR).

CUSTOMER_NUMBER_URLS = [
    ("get", "/api/v1/orders/US-000001%00/"),
    ("get", "/api/v1/orders/US-000001%00/history/"),
    ("get", "/api/v1/orders/US-000001%00/tracking/"),
    ("post", "/api/v1/orders/US-000001%00/cancel/"),
    ("get", "/api/v1/returns/RMA-000001%00/"),
    ("post", "/api/v1/returns/RMA-000001%00/cancel/"),
]
STAFF_NUMBER_URLS = [
    ("get", "/api/v1/orders/US-000001%00/shipments/"),
    ("post", "/api/v1/orders/US-000001%00/shipments/"),
    ("get", "/api/v1/orders/US-000001%00/refunds/"),
    ("post", "/api/v1/orders/US-000001%00/approve/"),
    ("get", "/api/v1/shipments/SH-000001%00/"),
    ("post", "/api/v1/shipments/SH-000001%00/pack/"),
    ("post", "/api/v1/returns/RMA-000001%00/approve/"),
]


@pytest.mark.parametrize(("method", "url"), CUSTOMER_NUMBER_URLS)
def test_f1_nul_in_number_is_not_found_for_customers(customer_api, method, url):
    assert_error(getattr(customer_api, method)(url, {}, format="json"), 404, "NOT_FOUND")


@pytest.mark.parametrize(("method", "url"), STAFF_NUMBER_URLS)
def test_f1_nul_in_number_is_not_found_for_staff(staff_api, method, url):
    assert_error(getattr(staff_api, method)(url, {}, format="json"), 404, "NOT_FOUND")


# --- F2: NUL in a free-text query parameter → 500 instead of 400 ------------------------
# orders/api/catalog.py (?market= in ProductListCreateView._market, ?search= in
# get_queryset) and inventory/api.py StockListView (?sku=) query with the raw value.


@pytest.mark.parametrize("query", ["search=%00", "market=%00", "market=US%00"])
def test_f2_nul_in_product_query_is_rejected(api, seeded, query):
    assert_error(api.get(f"/api/v1/products/?{query}"), 400, "VALIDATION_FAILED")


def test_f2_nul_in_stock_sku_query_is_rejected(staff_api):
    assert_error(staff_api.get("/api/v1/inventory/stock/?sku=%00"), 400, "VALIDATION_FAILED")


# --- F3: an ISO 8601 offset PostgreSQL cannot store → 500 ------------------------------
# orders/api/orders.py OrderFilter: IsoDateTimeFilter hands the aware datetime, offset
# and all, to PostgreSQL, whose timestamptz offsets stop at ±15:59 (DataError "time zone
# displacement out of range"). Python accepts up to ±23:59; the instant is valid.


@pytest.mark.parametrize(
    "query",
    [
        "created_after=2026-01-01T00:00:00%2B18:00",
        "created_before=2026-01-01T00:00:00-16:00",
    ],
)
def test_f3_filter_with_large_utc_offset_is_answered(customer_api, query):
    response = customer_api.get(f"/api/v1/orders/?{query}")
    assert response.status_code == 200, response.content


# --- F4: GET /products/ is public but the schema says it needs credentials ------------
# orders/api/catalog.py: ReadAnyoneWriteStaff lets anyone read, but drf-spectacular
# only marks auth optional ({} in `security`) for AllowAny / IsAuthenticatedOrReadOnly.


def test_f4_schema_says_product_list_allows_anonymous_reads():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    security = schema["paths"]["/api/v1/products/"]["get"]["security"]
    assert {} in security, security


def test_f4_product_list_does_answer_anonymous_reads(api):
    assert api.get(reverse("product-list")).status_code == 200


# --- F5-F7: signed payment webhooks of the test gateway → 500 --------------------------
# payments/gateways/test_gateway.py TestGateway.parse_webhook accepts any Decimal (NaN
# then breaks the comparisons in payments/services/webhooks.py _apply_event: InvalidOperation),
# any event id length (PaymentWebhookEvent.event_id is varchar(255): DataError) and NUL
# anywhere (PostgreSQL text and jsonb refuse it: DataError).

PAYMENT_WEBHOOK = "/api/v1/webhooks/payments/test/"


@pytest.mark.parametrize("amount", ["NaN", "sNaN"])
def test_f5_payment_webhook_with_non_finite_amount_is_rejected(
    api, customer_api, seeded, secrets, django_capture_on_commit_callbacks, amount
):
    number = place_confirmed_order(customer_api, django_capture_on_commit_callbacks)
    reference = Payment.objects.get(order__number=number).reference
    assert reference
    event = {"id": "EV-1", "type": "payment.captured", "reference": reference, "amount": amount}
    response = signed_post(api, PAYMENT_WEBHOOK, event, secrets["gateway"]["test"])
    assert_error(response, 400, "VALIDATION_FAILED")


def test_f6_payment_webhook_with_overlong_event_id_is_rejected(api, secrets):
    event = {"id": "E" * 300, "type": "payment.captured", "reference": "x", "amount": "1.00"}
    response = signed_post(api, PAYMENT_WEBHOOK, event, secrets["gateway"]["test"])
    assert_error(response, 400, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    "event",
    [
        {"id": "EV-\x00", "type": "payment.captured", "reference": "x"},
        {"id": "EV-2", "type": "payment.captured", "reference": "x\x00"},
        {"id": "EV-3", "type": "payment.captured", "reference": "x", "note": "\x00"},
    ],
    ids=["id", "reference", "other-field"],
)
def test_f7_payment_webhook_with_nul_is_rejected(api, secrets, event):
    response = signed_post(api, PAYMENT_WEBHOOK, event, secrets["gateway"]["test"])
    assert_error(response, 400, "VALIDATION_FAILED")


# --- F8-F9: signed carrier webhooks → 500 ----------------------------------------------
# fulfillment/carriers/base.py parse_event lets NUL through (TrackingEvent text columns
# and its `raw` jsonb refuse it) and `_when` keeps an offset PostgreSQL cannot store.

CARRIER_WEBHOOK = "/api/v1/webhooks/carriers/test/"


@pytest.mark.parametrize(
    "event",
    [
        {"event_id": "EV-\x00", "tracking_number": "TRK-1", "status": "in_transit"},
        {"event_id": "EV-1", "tracking_number": "TRK-\x00", "status": "in_transit"},
    ],
    ids=["event_id", "tracking_number"],
)
def test_f8_carrier_webhook_with_nul_is_rejected(api, secrets, event):
    response = signed_post(api, CARRIER_WEBHOOK, event, secrets["carrier"]["test"])
    assert_error(response, 400, "VALIDATION_FAILED")


def test_f8_carrier_webhook_with_nul_in_location_is_rejected(
    api, customer_api, staff_api, seeded, secrets, django_capture_on_commit_callbacks
):
    tracking = shipped_with_test_carrier(
        customer_api, staff_api, django_capture_on_commit_callbacks
    )
    event = {"event_id": "EV-L", "tracking_number": tracking, "status": "in_transit"}
    event["location"] = "Hub \x00"
    response = signed_post(api, CARRIER_WEBHOOK, event, secrets["carrier"]["test"])
    assert_error(response, 400, "VALIDATION_FAILED")


def test_f9_carrier_webhook_with_large_utc_offset_is_applied(
    api, customer_api, staff_api, seeded, secrets, django_capture_on_commit_callbacks
):
    tracking = shipped_with_test_carrier(
        customer_api, staff_api, django_capture_on_commit_callbacks
    )
    event = {
        "event_id": "EV-TZ",
        "tracking_number": tracking,
        "status": "in_transit",
        "occurred_at": "2026-11-21T10:00:00+18:00",
    }
    response = signed_post(api, CARRIER_WEBHOOK, event, secrets["carrier"]["test"])
    assert response.status_code == 200, response.content


# --- F10: marketplace order whose line total overflows the money columns → 500 ---------
# orders/channels/serializers.py (in progress) takes quantity ≤ 10 000 and unit_price
# ≤ 9 999 999 999.99 separately; their product does not fit numeric(12, 2)
# (DataError "numeric field overflow" when the order lines are written).


def test_f10_channel_order_with_overflowing_line_total_is_rejected(api, seeded, secrets):
    body = {
        "external_id": "TT-OVERFLOW",
        "market": "US",
        "buyer": {"name": "Ana Cruz", "email": "ana@example.com"},
        "shipping_address": US_ADDRESS,
        "items": [{"sku": "TSHIRT-RED-M", "quantity": 10000, "unit_price": "9999999999.99"}],
        "shipping": "0.00",
        "total": "9999999999.99",
        "paid": True,
    }
    url = "/api/v1/webhooks/channels/tiktok/orders/"
    response = signed_post(api, url, body, secrets["channel"]["tiktok"])
    assert_error(response, 400, "VALIDATION_FAILED")


# --- F11: NUL in a market code key of POST /products/ `prices` → 500 -------------------
# orders/api/catalog.py ProductListCreateView.post queries Market by the raw keys
# (DictField checks the values, not the keys).


def test_f11_product_prices_with_nul_market_key_is_rejected(staff_api, seeded):
    body = {"sku": "NUL-KEY", "name": "Nul key", "prices": {"US\x00": "1.00"}, "active": True}
    response = staff_api.post("/api/v1/products/", body, format="json")
    assert_error(response, 400, "VALIDATION_FAILED")
