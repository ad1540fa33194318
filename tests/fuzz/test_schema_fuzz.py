"""Schema fuzzing: schemathesis against `/api/schema/`, every operation, once as a
customer and once as a staff superuser, against seeded data (tests/fuzz/world.py).

- The schema is loaded from the Django application in-process (WSGI, no server).
- The world is committed once for the module and flushed at its end; each test
  runs in a transaction and each case in a savepoint, both rolled back, so every
  case starts from the same world (reproducible, order-independent).
- Cases are steered towards that world (see `flatmap_case`): path parameters are
  mostly real order/shipment/return numbers, bodies are often valid templates with
  fields swapped for generated or real values, string query parameters sometimes get
  values known to break Django/PostgreSQL apps (NUL, UTC offsets past ±15:59), and
  webhook requests are signed, so fuzzed bodies reach the parsers behind the signature.

Run:  pytest -m fuzz tests/fuzz/test_schema_fuzz.py
A failure prints the request as a curl command. Hypothesis stops an operation at
its first failure; to list every distinct failure in one run instead, set
ORDERLY_FUZZ_REPORT=/some/file.json (failures are collected there, tests pass).
tests/fuzz/test_findings.py holds a plain regression test per finding."""

from __future__ import annotations

import json
import os
import traceback
from collections import Counter, defaultdict
from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import TestCase, override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup

from tests.fuzz import world as world_module

# Each test runs in a transaction rolled back at its end, on top of the module's world.
pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

# Per operation and role: the schema's examples, the coverage phase's boundary cases,
# then MAX_EXAMPLES generated cases (positive and negative). Sized so the module runs
# in under three minutes on 2 cores.
MAX_EXAMPLES = 20

# The signed webhooks take arbitrary JSON behind the signature: more cases there.
WEBHOOK_MAX_EXAMPLES = 60

application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    application,
    config=schemathesis.Config.from_dict(
        {
            "generation": {"deterministic": True, "max-examples": MAX_EXAMPLES},
            "operations": [
                {
                    "include-path-regex": "/webhooks/",
                    "generation": {"max-examples": WEBHOOK_MAX_EXAMPLES},
                }
            ],
        }
    ),
)

CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,  # a documented status: the body matches its schema
    checks.content_type_conformance,  # a documented status: a documented Content-Type
    checks.response_headers_conformance,  # documented response headers present and valid
    checks.missing_required_header,  # leaving out a required header is refused
    checks.unsupported_method,  # an undocumented method on a documented path is a 405
    checks.allow_header_conformance,  # a 405 names the allowed methods
    checks.ignored_auth,  # an operation that declares auth refuses requests without it
]
# Left out, on purpose:
# - status_code_conformance: the schema documents success statuses only; the errors of
#   API.md's table (400/401/403/404/409) are undocumented on most operations, so it
#   would fail on every refusal. Their *shape* is checked by `error_envelope` below.
# - negative_data_rejection: DRF is deliberately more lenient than the JSON schema it
#   publishes: it coerces types ("5" -> 5, 0/1 -> booleans, numbers -> strings), trims
#   whitespace before checking max_length, treats an empty filter (`?created_before=`)
#   as no filter and falls back to defaults for a bad `page_size`. The check reports each
#   of those as "invalid data accepted"; it judges requests, not responses, and an
#   exploratory run with it found nothing but these (see the report in the issue).
# - positive_data_acceptance: schema-valid input is routinely refused by rules the
#   schema cannot express (unknown numbers → 404, wrong state → 409, no stock → 400).
# - use_after_free, ensure_resource_availability, object_level_authorization: they judge
#   sequences of calls (stateful testing); stateless cases give them nothing to judge.
# - max_response_time: the contract sets no latency budget.


@schemathesis.check
def error_envelope(ctx, response, case):
    """API.md: every error body is {"error": {"code", "message", "details"}}."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} error body is not JSON") from exc
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} body has no `error` object: {body!r}"
    assert isinstance(error.get("code"), str) and error["code"].isupper(), error
    assert isinstance(error.get("message"), str) and error["message"], error
    assert isinstance(error.get("details"), list), error
    for item in error["details"]:
        assert isinstance(item, dict) and set(item) >= {"field", "code", "message"}, item
    return True


CHECKS.append(error_envelope)

# --- Point path parameters at objects that exist, shape webhook bodies ----------------

# Filled by the `world` fixture before any case is drawn (draws happen inside tests).
KNOWN: dict = {}

_KINDS = (
    ("/orders/{number}", "orders"),
    ("/shipments/{number}", "shipments"),
    ("/returns/{number}", "returns"),
    ("/webhooks/carriers/{carrier}", "carriers"),
    ("/webhooks/payments/{gateway}", "gateways"),
    ("/webhooks/channels/{channel}", "channels"),
)
_SECRET_GROUP = {"carriers": "carrier", "gateways": "gateway", "channels": "channel"}


def _kind(path: str) -> str | None:
    return next((kind for prefix, kind in _KINDS if prefix in path), None)


SKUS = ["TSHIRT-RED-M", "TSHIRT-BLUE-L", "HOODIE-GREY-M", "LAPTOP-PRO-14", "NO-SUCH-SKU"]
ADDRESS = {
    "name": "Ana Cruz",
    "phone": "+14155550100",
    "line1": "1 Main St",
    "line2": "",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}
# Body fields by name → real values of the seeded world (tried beside generated ones).
KNOWN_FIELDS: dict[str, list] = {
    "market": ["US", "IN", "PH", "us", "XX"],
    "sku": SKUS,
    "replacement_sku": SKUS,
    "quantity": [1, 2, 100, 101],
    "warehouse": ["US-EAST", "IN-MUM", "PH-MNL"],
    "shipping_method": ["standard", "express"],
    "payment_method": ["card", "upi", "cod"],
    "payment_token": ["tok_visa", "tok_chargeDeclined", "tok_riskHigh", ""],
    "promo_code": ["WELCOME10", ""],
    "expected_total": ["53.99", "0.00"],
    "country": ["US", "IN", "PH"],
    "phone": ["+14155550100", "+919876543210", "12"],
    "carrier": ["test", "manual", "nope"],
    "condition": ["resellable", "damaged"],
    "resolution": ["refund", "replacement"],
    "reason": ["defective", "other"],
    "amount": ["0.01", "1.00", "99999999.99"],
    "username": ["demo", "admin"],
    "password": ["orderly-demo-1"],
}


def _n(name: str) -> str:
    return KNOWN.get("named", {}).get(name, "US-000001")


# Valid bodies per operation, mixed field by field with the generated ones.
TEMPLATES = {
    "POST /api/v1/orders/": lambda: {
        "market": "US",
        "items": [{"sku": "TSHIRT-RED-M", "quantity": 1}],
        "shipping_method": "standard",
        "shipping_address": dict(ADDRESS),
        "payment_method": "card",
        "payment_token": "tok_visa",
        "promo_code": "",
        "expected_total": "27.58",
    },
    "POST /api/v1/returns/": lambda: {
        "order": _n("delivered_no_return"),
        "reason": "defective",
        "items": [{"sku": "TSHIRT-RED-M", "quantity": 1}],
        "comment": "",
        "resolution": "refund",
    },
    "POST /api/v1/orders/{number}/refunds/": lambda: {"amount": "1.00", "reason": "goodwill"},
    "POST /api/v1/orders/{number}/shipments/": lambda: {
        "items": [{"sku": "TSHIRT-RED-M", "quantity": 1}],
        "warehouse": "US-EAST",
    },
    "POST /api/v1/shipments/{number}/ship/": lambda: {
        "carrier": "test",
        "tracking_number": "FUZZ-NEW-1",
    },
    "POST /api/v1/returns/{number}/receive/": lambda: {
        "items": [{"sku": "SNEAKER-WHT-42", "quantity": 1, "condition": "resellable"}]
    },
    "POST /api/v1/returns/{number}/schedule-pickup/": lambda: {
        "pickup_at": "2026-12-01T10:00:00Z",
        "carrier": "manual",
        "tracking_number": "RET-2",
    },
    "POST /api/v1/inventory/adjustments/": lambda: {
        "sku": "TSHIRT-RED-M",
        "warehouse": "US-EAST",
        "quantity": -1,
        "reason": "count",
    },
    "POST /api/v1/products/": lambda: {
        "sku": "FUZZ-NEW",
        "name": "Fuzz product",
        "prices": {"US": "19.99", "IN": "1499.00"},
        "active": True,
    },
    "POST /api/v1/webhooks/channels/{channel}/orders/": lambda: {
        "external_id": "TT-FUZZ-1",
        "market": "US",
        "placed_at": "2026-11-21T10:00:00Z",
        "buyer": {"name": "Ana Cruz", "email": "ana@example.com", "phone": "+14155550100"},
        "shipping_address": dict(ADDRESS),
        "items": [{"sku": "TSHIRT-RED-M", "quantity": 1, "unit_price": "19.99"}],
        "shipping": "0.00",
        "total": "21.59",
        "paid": True,
    },
    "POST /api/v1/auth/token/": lambda: {"username": "demo", "password": "orderly-demo-1"},
}


# Values that have broken Django/PostgreSQL apps before, mixed into path and query
# parameters: NUL (PostgreSQL text refuses it), UTC offsets PostgreSQL cannot store
# (it stops at ±15:59), dates at the edges of `datetime`, overlong and odd text.
NASTY_TEXT = ["\x00", "US-000001\x00", "a\x00", "x" * 300, "%", "..", " ", "٣", "-1", "9" * 30]
NASTY_DATETIMES = [
    "2026-01-01T00:00:00+18:00",
    "2026-01-01T00:00:00-16:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z",
]
_NASTY = st.sampled_from(NASTY_TEXT + NASTY_DATETIMES)
_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)


def _path_strategy(path_parameters, kind):
    """Mostly a real identifier (random ones only reach the 404 branch), else the
    generated one or a nasty one. Webhooks mostly name the sender with a secret."""
    if not path_parameters or len(path_parameters) != 1:
        return st.just(path_parameters)
    (name,) = path_parameters
    known = KNOWN.get(kind or "") or []
    if kind in _SECRET_GROUP and known:
        known = [known[0]] * 3 + known  # the first one has a secret
    options = [st.just(path_parameters), _NASTY.map(lambda value: {name: value})]
    if known:  # first: Hypothesis draws the first branch of one_of most often
        options.insert(0, st.sampled_from(known).map(lambda value: {name: value}))
    return st.one_of(options)


def _query_strategy(query, operation):
    """Often one declared string query parameter (generated or not) gets a nasty value."""
    names = sorted(
        p.name for p in operation.query if p.definition.get("schema", {}).get("type") == "string"
    )
    if not names:
        return st.just(query)
    query = query or {}
    nasty = st.tuples(st.sampled_from(names), _NASTY).map(lambda kv: {**query, kv[0]: kv[1]})
    return st.one_of(nasty, st.just(query))


def _enrich(value):
    """The value with fields named like domain fields sometimes set to real values
    (a market that exists, a SKU in stock, a delivered order's number...)."""
    if isinstance(value, dict):
        if not value:
            return st.just(value)
        parts = []
        for key, item in value.items():
            inner = _enrich(item)
            if key in KNOWN_FIELDS:
                inner = st.one_of(inner, st.sampled_from(KNOWN_FIELDS[key]))
            parts.append(inner.map(lambda v, key=key: (key, v)))
        return st.tuples(*parts).map(dict)
    if isinstance(value, list) and value:
        return st.tuples(*(_enrich(item) for item in value)).map(list)
    return st.just(value)


def _mixed_with_template(body, template):
    """Each top-level field from a valid template or from the generated body: most
    cases then pass shape validation and reach the domain rules behind it."""
    generated = body if isinstance(body, dict) else {}
    parts = []
    for key, good in template.items():
        choices = [st.just(good)]
        if key in generated:
            choices.append(st.just(generated[key]))
        parts.append(st.one_of(choices).map(lambda v, key=key: (key, v)))
    return st.tuples(*parts).map(dict).flatmap(_enrich)


PAYMENT_EVENT_TYPES = [
    "payment.captured",
    "payment.refunded",
    "payment.authorized",
    "payment.voided",
    "payment.failed",
]


def _shaped_webhook_body(kind: str):
    """Bodies shaped like real carrier / gateway events, each field any JSON value."""
    if kind == "carriers":
        return st.fixed_dictionaries(
            {
                "event_id": st.sampled_from(["EV-1", *NASTY_TEXT]) | st.text() | _ANY_JSON,
                "tracking_number": st.sampled_from(KNOWN.get("tracking") or ["X"]) | _ANY_JSON,
                "status": st.sampled_from(["in_transit", "delivered", "exception"]) | _ANY_JSON,
            },
            optional={
                "location": st.sampled_from(NASTY_TEXT) | st.text() | _ANY_JSON,
                "description": st.text(max_size=600) | _ANY_JSON,
                "occurred_at": st.sampled_from(
                    ["2026-11-21T10:00:00Z", "2026-11-21T10:00:00", *NASTY_DATETIMES]
                )
                | _ANY_JSON,
            },
        )
    return st.fixed_dictionaries(
        {
            "id": st.sampled_from(["EV-1", *NASTY_TEXT]) | st.text() | _ANY_JSON,
            "type": st.sampled_from(PAYMENT_EVENT_TYPES) | _ANY_JSON,
            "reference": st.sampled_from(KNOWN.get("payment_references") or ["X"])
            | st.sampled_from(NASTY_TEXT)
            | _ANY_JSON,
            "amount": st.sampled_from(["NaN", "1.00", "-1", "Infinity", "1e9", "abc"]) | _ANY_JSON,
        }
    )


def _body_strategy(case, kind):
    body = case.body
    if kind in ("carriers", "gateways"):  # free-form in the schema
        return st.one_of(_shaped_webhook_body(kind), st.just(body))
    template = TEMPLATES.get(case.operation.label)
    if template is None:
        return st.one_of(_enrich(body), st.just(body))
    # Hypothesis draws the first branch of one_of most often: the template.
    return st.one_of(_mixed_with_template(body, template()), st.just(body), _enrich(body))


@schema.hook
def flatmap_case(context, case):
    """Steer generated cases towards the seeded world. Negative cases keep their
    (deliberately invalid) query and body; only identifiers in the path change."""
    kind = _kind(context.operation.path)
    negative = case.meta is not None and case.meta.generation.mode.is_negative
    path = _path_strategy(case.path_parameters, kind)
    query = st.just(case.query) if negative else _query_strategy(case.query, case.operation)
    has_body = not isinstance(case.body, NotSet)
    body = _body_strategy(case, kind) if has_body and not negative else st.just(case.body)

    def apply(parts):
        path_parameters, query_, body_ = parts
        if path_parameters != case.path_parameters:
            case.path_parameters = path_parameters
        if query_ != (case.query or {}):
            case.query = query_
        if has_body and body_ != case.body:
            case.body = body_
        return case

    return st.tuples(path, query, body).map(apply)


def _signed(case) -> dict:
    """Sign a webhook request with the module's secret for its sender, over the exact
    bytes sent; a sender without a secret (or a body JSON cannot carry) goes unsigned."""
    kind = _kind(case.operation.path)
    group = _SECRET_GROUP.get(kind or "")
    if group is None:
        return {}
    (name,) = case.path_parameters.values()
    secret = world_module.WEBHOOK_SECRETS[group].get(name)
    if not secret or isinstance(case.body, NotSet):
        return {}
    if isinstance(case.body, bytes):
        raw = case.body
    else:
        try:
            raw = json.dumps(case.body).encode()
        except (TypeError, ValueError):
            return {}
    return {"data": raw, "headers": {"X-Orderly-Signature": world_module.sign(raw, secret)}}


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Commit the seeded world for the whole module, then flush it away."""
    with (
        django_db_blocker.unblock(),
        override_settings(WEBHOOK_SECRETS=world_module.WEBHOOK_SECRETS),
    ):
        try:
            world_module.flush_world()  # whatever a crashed run or --reuse-db left behind
            built = world_module.build_world()
            KNOWN.update(
                orders=[*built.orders, "US-999999"],
                shipments=built.shipments,
                returns=built.returns,
                tracking=built.tracking_numbers,
                payment_references=built.payment_references,
                carriers=["test", "manual"],  # manual has no secret: always 401
                gateways=["test", "stripe", "razorpay"],
                channels=["tiktok", "shopee"],
                named=built.named,
            )
            yield built
        finally:
            KNOWN.clear()
            world_module.flush_world()


@pytest.fixture(params=["customer", "staff"])
def role(request, world) -> tuple[str, dict[str, str]]:
    token = world.customer_token if request.param == "customer" else world.staff_token
    return request.param, {"Authorization": f"Token {token}"}


@contextmanager
def _no_connection_recycling():
    """Django's WSGI handler closes "old" connections as a request starts and ends,
    which would drop the test transaction's. Django's test client switches this
    off the same way, and back on after each request: hence per case."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# --- Collect mode (ORDERLY_FUZZ_REPORT) -------------------------------------------------

REPORT_PATH = os.environ.get("ORDERLY_FUZZ_REPORT")
_collected: dict[tuple, dict] = {}
# How deep the cases got: statuses seen per operation and role (in the report).
_statuses: dict[str, Counter] = defaultdict(Counter)


def _collect(role_name: str, case, headers: dict, exc: BaseException) -> None:
    failures = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
    for failure in failures:
        title = getattr(failure, "title", None) or type(failure).__name__
        message = str(getattr(failure, "message", "") or failure)
        key = (case.operation.label, role_name, title, message.splitlines()[0][:120])
        if key in _collected:
            _collected[key]["count"] += 1
            continue
        _collected[key] = {
            "operation": case.operation.label,
            "role": role_name,
            "title": title,
            "message": message[:2000],
            "curl": case.as_curl_command(headers=headers),
            "traceback": "" if isinstance(exc, FailureGroup) else traceback.format_exc()[-3000:],
            "count": 1,
        }


@pytest.fixture(scope="module", autouse=True)
def _write_report():
    yield
    if REPORT_PATH:
        with open(REPORT_PATH, "w") as fh:
            report = {
                "failures": list(_collected.values()),
                "statuses": {key: dict(sorted(c.items())) for key, c in sorted(_statuses.items())},
            }
            json.dump(report, fh, indent=2)


# --- The test ---------------------------------------------------------------------------


@schema.parametrize()
@settings(  # max_examples comes from the schemathesis config above (per operation)
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
def test_schema_fuzz(case, role):
    role_name, auth = role
    signed = _signed(case)
    headers = {**auth, **signed.pop("headers", {})}
    # Each case starts from the same world: its writes are rolled back after it. Work
    # queued for after commit (the eager workers) runs first, as after a real commit.
    savepoint = transaction.savepoint()
    try:
        with _no_connection_recycling(), TestCase.captureOnCommitCallbacks(execute=True):
            response = case.call(headers=headers, **signed)
        _statuses[f"{case.operation.label} [{role_name}]"][response.status_code] += 1
        with _no_connection_recycling():
            case.validate_response(
                response, checks=CHECKS, headers=headers, transport_kwargs=signed
            )
    except (Exception, FailureGroup) as exc:  # FailureGroup is a BaseExceptionGroup
        if not REPORT_PATH:
            raise
        _collect(role_name, case, headers, exc)
    finally:
        transaction.savepoint_rollback(savepoint)
