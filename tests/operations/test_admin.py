"""The processing-error console: opens on unresolved errors, filters and searches,
resolves with a note (who and when recorded), shows an order's own errors."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from operations.admin import ProcessingErrorInline
from operations.models import ProcessingError
from operations.services import error_record, error_resolve, timing_record
from orders.models import Order
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:operations_processingerror_changelist"


@pytest.fixture
def errors(order):
    """Three open errors of different kinds and one resolved."""
    made = {
        "payment": error_record(
            category="payment",
            severity="critical",
            step="order_confirm",
            order=order,
            message="Gateway declined: do_not_honor",
        ),
        "shipping": error_record(
            category="shipping",
            severity="warning",
            step="shipment_ship",
            reference="SHP-000777",
            message="Carrier timed out",
        ),
        "import": error_record(
            category="import_validation",
            step="csv_import",
            reference="orders-2024-05.csv",
            message="row 12: unknown SKU NOPE-1",
        ),
        "done": error_record(
            category="notification",
            step="notify_shipped",
            reference="SHP-000001",
            message="SMTP refused",
        ),
    }
    error_resolve(error_id=made["done"].pk, actor=None, note="resent")
    return made


def listed(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def test_the_list_opens_on_unresolved_errors(admin_client, errors):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert listed(response) == {errors["payment"].pk, errors["shipping"].pk, errors["import"].pk}
    body = response.content.decode()
    assert "Gateway declined" in body and "SMTP refused" not in body

    resolved_filter = next(
        spec for spec in response.context["cl"].filter_specs if spec.parameter_name == "resolved"
    )
    selected = [
        c["display"] for c in resolved_filter.choices(response.context["cl"]) if c["selected"]
    ]
    assert selected == ["No"]

    assert listed(admin_client.get(reverse(CHANGELIST), {"resolved": "yes"})) == {errors["done"].pk}
    assert len(listed(admin_client.get(reverse(CHANGELIST), {"resolved": "all"}))) == 4


def test_filters_and_search(admin_client, errors, order):
    url = reverse(CHANGELIST)
    assert listed(admin_client.get(url, {"category": "shipping"})) == {errors["shipping"].pk}
    assert listed(admin_client.get(url, {"severity": "critical"})) == {errors["payment"].pk}
    assert listed(admin_client.get(url, {"step": "csv_import"})) == {errors["import"].pk}
    assert listed(admin_client.get(url, {"q": "SHP-000777"})) == {errors["shipping"].pk}
    assert listed(admin_client.get(url, {"q": "unknown SKU"})) == {errors["import"].pk}
    assert listed(admin_client.get(url, {"q": order.number})) == {errors["payment"].pk}
    assert listed(admin_client.get(url, {"q": "SHP-000001"})) == set()  # resolved: hidden
    assert listed(admin_client.get(url, {"q": "SHP-000001", "resolved": "all"})) == {
        errors["done"].pk
    }


def test_resolve_selected_asks_for_a_note_then_records_who_and_when(admin_client, errors):
    url = reverse(CHANGELIST)
    chosen = [errors["payment"].pk, errors["shipping"].pk]
    data = {"action": "resolve_selected", "_selected_action": chosen}

    page = admin_client.post(url, data)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/operations/processingerror/resolve.html"
    assert "Gateway declined" in page.content.decode()
    assert ProcessingError.objects.filter(pk__in=chosen, resolved=True).count() == 0

    # No note: asked again, nothing resolved.
    again = admin_client.post(url, {**data, "apply": "yes", "note": "  "})
    assert again.status_code == 200 and again.context["form"].errors
    assert ProcessingError.objects.filter(pk__in=chosen, resolved=True).count() == 0

    before = timezone.now()
    done = admin_client.post(url, {**data, "apply": "yes", "note": "Gateway fixed; re-ran"})
    assert done.status_code == 302
    for error in ProcessingError.objects.filter(pk__in=chosen):
        assert error.resolved
        assert error.resolved_by.username == "admin"
        assert before <= error.resolved_at <= timezone.now()
        assert error.resolution_note == "Gateway fixed; re-ran"
    assert not ProcessingError.objects.get(pk=errors["import"].pk).resolved
    assert listed(admin_client.get(url)) == {errors["import"].pk}


def test_resolve_button_on_an_errors_page(admin_client, errors):
    error = errors["import"]
    page = admin_client.get(reverse("admin:operations_processingerror_change", args=[error.pk]))
    resolve_url = reverse("admin:operations_processingerror_resolve", args=[error.pk])
    assert resolve_url in page.content.decode()

    assert admin_client.get(resolve_url).status_code == 200
    response = admin_client.post(resolve_url, {"note": "fixed the CSV"})
    assert response.status_code == 302
    error.refresh_from_db()
    assert error.resolved and error.resolution_note == "fixed the CSV"
    assert error.resolved_by.username == "admin"
    page = admin_client.get(reverse("admin:operations_processingerror_change", args=[error.pk]))
    assert resolve_url not in page.content.decode()


def test_errors_are_read_only(admin_client, errors):
    error = errors["payment"]
    assert admin_client.get(reverse("admin:operations_processingerror_add")).status_code == 403
    change_url = reverse("admin:operations_processingerror_change", args=[error.pk])
    body = admin_client.get(change_url).content.decode()
    assert 'name="message"' not in body and "do_not_honor" in body
    assert admin_client.post(change_url, {"message": "edited", "resolved": "on"}).status_code == 403
    error.refresh_from_db()
    assert error.message == "Gateway declined: do_not_honor" and not error.resolved
    delete_url = reverse("admin:operations_processingerror_delete", args=[error.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    actions = admin_client.get(reverse(CHANGELIST)).context["action_form"].fields["action"]
    assert [name for name, _ in actions.choices if name] == ["resolve_selected"]


def test_staff_who_may_only_view_cannot_resolve(client, errors):
    viewer = StaffFactory()
    viewer.user_permissions.set(Permission.objects.filter(codename="view_processingerror"))
    client.force_login(viewer)
    url = reverse(CHANGELIST)
    assert client.get(url).status_code == 200
    error = errors["payment"]
    client.post(
        url,
        {"action": "resolve_selected", "_selected_action": [error.pk], "apply": "yes", "note": "x"},
    )
    resolve_url = reverse("admin:operations_processingerror_resolve", args=[error.pk])
    assert client.post(resolve_url, {"note": "x"}).status_code == 403
    error.refresh_from_db()
    assert not error.resolved


def test_inline_shows_an_orders_own_errors_on_its_page(
    client, admin_client, errors, order, monkeypatch
):
    """How the orders admin will use it: ProcessingErrorInline added to its inlines."""
    order_admin = admin.site._registry[Order]
    monkeypatch.setattr(order_admin, "inlines", [*order_admin.inlines, ProcessingErrorInline])
    url = reverse("admin:orders_order_change", args=[order.pk])

    body = admin_client.get(url).content.decode()
    assert "Processing errors" in body
    assert "Gateway declined: do_not_honor" in body
    assert "Carrier timed out" not in body  # another object's error

    # Staff who may see orders see their errors, without operations permissions.
    ops = StaffFactory()
    ops.user_permissions.set(
        Permission.objects.filter(content_type__app_label="orders", codename="view_order")
    )
    client.force_login(ops)
    assert "Gateway declined: do_not_honor" in client.get(url).content.decode()


def test_step_timing_list_shows_percentiles(admin_client, order):
    timing_record(order_id=order.pk, step="payment", milliseconds=1500)
    timing_record(order_id=order.pk, step="fulfilment_lead_time", milliseconds=3 * 3600 * 1000)
    response = admin_client.get(reverse("admin:operations_steptiming_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Step timing percentiles" in body
    assert "Fulfilment lead time" in body and "3 h 0 min" in body
    assert "1.5 s" in body
    assert admin_client.get(reverse("admin:operations_steptiming_add")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_pages_render_for_an_error_whose_order_was_rolled_back(admin_client, place_order):
    """Recorded for an order whose placing transaction then rolled back: the
    error stays, pointing at an order id that never came to be."""
    with pytest.raises(RuntimeError), transaction.atomic():
        order = place_order()
        error_record(category="inventory", step="reserve", order=order, message="no stock")
        raise RuntimeError("placing failed")
    error = ProcessingError.objects.get(step="reserve")
    assert error.order_id == order.pk and not Order.objects.filter(pk=order.pk).exists()

    listing = admin_client.get(reverse(CHANGELIST))
    assert listing.status_code == 200 and f"#{order.pk}" in listing.content.decode()
    page = admin_client.get(reverse("admin:operations_processingerror_change", args=[error.pk]))
    assert page.status_code == 200 and "no stock" in page.content.decode()
