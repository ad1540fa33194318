"""The order changelist's search (orders/admin_search.py): every word must match
the number, the customer's username or e-mail, or a line's SKU, anywhere and in
any case, as Django's own search did; each order is listed once; on PostgreSQL
the trigram indexes that serve it exist."""

import pytest
from django.db import connection
from django.urls import reverse

from orders.admin_search import order_search
from orders.models import Order
from tests.factories import UserFactory


def numbers(queryset) -> set[str]:
    return set(queryset.values_list("number", flat=True))


@pytest.fixture
def orders(place_held):
    ana = UserFactory(username="ana.cruz", email="ana.cruz@shop.test")
    ben = UserFactory(username="ben", email="benjamin@mail.test")
    return {
        "ana1": place_held(customer=ana),
        "ana2": place_held(customer=ana, quantity=2),
        "ben": place_held(customer=ben),
    }


def test_search_by_number_email_username_and_sku(orders):
    everyone = Order.objects.all()
    ana1, ana2, ben = orders["ana1"], orders["ana2"], orders["ben"]

    assert numbers(order_search(everyone, ana1.number)) == {ana1.number}
    assert numbers(order_search(everyone, ana1.number.lower())) == {ana1.number}
    assert numbers(order_search(everyone, "ANA.CRUZ@shop")) == {ana1.number, ana2.number}
    assert numbers(order_search(everyone, "benjamin@")) == {ben.number}
    assert numbers(order_search(everyone, "ben")) == {ben.number}  # username
    assert numbers(order_search(everyone, "lamp-1")) == {ana1.number, ana2.number, ben.number}
    assert numbers(order_search(everyone, "nobody")) == set()
    assert numbers(order_search(everyone, "")) == {ana1.number, ana2.number, ben.number}


def test_every_word_must_match_and_quotes_keep_a_phrase(orders):
    everyone = Order.objects.all()
    ana1, ana2 = orders["ana1"], orders["ana2"]

    assert numbers(order_search(everyone, f"ana {ana2.number}")) == {ana2.number}
    assert numbers(order_search(everyone, "ana lamp")) == {ana1.number, ana2.number}
    assert numbers(order_search(everyone, '"ana cruz"')) == set()  # one phrase, no match


def test_search_narrows_the_filtered_list_and_lists_each_order_once(orders):
    held = Order.objects.filter(customer__username="ana.cruz")

    found = order_search(held, "LAMP")
    assert sorted(found.values_list("number", flat=True)) == sorted(
        [orders["ana1"].number, orders["ana2"].number]
    )


def test_changelist_search_by_email(client, reviewer, orders):
    client.force_login(reviewer)

    response = client.get(reverse("admin:orders_order_changelist"), {"q": "benjamin@mail"})

    html = response.content.decode()
    assert response.status_code == 200
    assert orders["ben"].number in html
    assert orders["ana1"].number not in html
    assert "1 result" in html


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes: PostgreSQL only")
def test_trigram_indexes_exist(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%%_trgm'")
        found = dict(cursor.fetchall())
    assert set(found) == {
        "orders_order_number_trgm",
        "orders_orderline_sku_trgm",
        "auth_user_username_trgm",
        "auth_user_email_trgm",
    }
    assert all(
        "gin_trgm_ops" in definition and "upper" in definition for definition in found.values()
    )
