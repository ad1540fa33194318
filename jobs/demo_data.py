"""The API.md demo data. Idempotent: running it twice changes nothing the second
time (stock is topped up to the demo level with ledger rows only when below it).
Every row is written by the app that owns it, through its services."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from inventory.services import product_upsert, stock_top_up, warehouse_upsert
from orders.services.customers import customer_account_ensure
from orders.services.setup import market_upsert, promo_upsert

D = Decimal
MARKETS = [
    # code, name, currency, country, tax, incl, methods, cod_limit, review, cod_review, shipping
    ("US", "United States", "USD", "US", "0.0800", False, ["card"], None, "1000.00", None,
     [("standard", "Standard", "5.99", "50.00"), ("express", "Express", "14.99", None)]),
    ("IN", "India", "INR", "IN", "0.1800", True, ["card", "upi", "cod"], "50000.00", "100000.00", "20000.00",
     [("standard", "Standard", "49.00", "999.00"), ("express", "Express", "149.00", None)]),
    ("PH", "Philippines", "PHP", "PH", "0.1200", True, ["card", "cod"], "500000.00", "50000.00", "20000.00",
     [("standard", "Standard", "100.00", "1500.00")]),
]  # fmt: skip
WAREHOUSES = [
    ("US-EAST", "US East", "US", ["US"]),
    ("IN-MUM", "Mumbai", "IN", ["IN"]),
    ("PH-MNL", "Manila", "PH", ["PH"]),
]
PRODUCTS = [
    # sku, name, US, IN, PH, stock per warehouse
    ("TSHIRT-RED-M", "T-shirt, red, M", "19.99", "1499.00", "799.00", 200),
    ("TSHIRT-BLUE-L", "T-shirt, blue, L", "19.99", "1499.00", "799.00", 150),
    ("HOODIE-GREY-M", "Hoodie, grey, M", "49.00", "3499.00", "2199.00", 80),
    ("SNEAKER-WHT-42", "Sneakers, white, 42", "89.00", "6999.00", "4599.00", 60),
    ("BACKPACK-BLK", "Backpack, black", "59.00", "3999.00", "2899.00", 40),
    ("WATCH-SMART", "Smart watch", "349.00", "29999.00", "18999.00", 25),
    ("LAPTOP-PRO-14", "Laptop Pro 14", "1899.00", "159999.00", "99999.00", 10),
]  # fmt: skip
DEMO_PASSWORD = "orderly-demo-1"


@transaction.atomic
def demo_data_seed() -> None:
    for code, name, cur, country, tax, incl, methods, cod, review, cod_review, shipping in MARKETS:
        market_upsert(
            code=code, name=name, currency=cur, country=country, tax_rate=D(tax),
            prices_include_tax=incl, payment_methods=methods, cod_limit=_money(cod),
            review_amount=D(review), cod_review_amount=_money(cod_review), return_window_days=30,
            shipping=[(c, n, D(price), _money(free)) for c, n, price, free in shipping],
        )  # fmt: skip
    warehouses = [
        warehouse_upsert(code=code, name=name, country=country, priority=i * 10, markets=markets)
        for i, (code, name, country, markets) in enumerate(WAREHOUSES, start=1)
    ]
    admin = _user("admin", superuser=True)
    for sku, name, us, inr, php, stock in PRODUCTS:
        product = product_upsert(
            sku=sku, name=name, prices={"US": D(us), "IN": D(inr), "PH": D(php)}
        )
        for i, warehouse in enumerate(warehouses):
            stock_top_up(
                product=product, warehouse=warehouse, level=stock,
                bin_location=f"A{i + 1}-{sku[:3]}", actor=admin, reason="demo stock",
            )  # fmt: skip
    promo_upsert(code="WELCOME10", kind="percent", value=D("10"), min_subtotal=D("20"))
    _user("demo")
    reviewer = _user("reviewer", staff=True)
    reviewers, _ = Group.objects.get_or_create(name="Reviewer")
    reviewers.permissions.add(
        *Permission.objects.filter(codename__in=["review_order", "view_order"])
    )
    reviewer.groups.add(reviewers)


def _money(value: str | None) -> Decimal | None:
    return D(value) if value else None


def _user(username: str, *, superuser: bool = False, staff: bool = False):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        factory = User.objects.create_superuser if superuser else User.objects.create_user
        user = factory(username=username, email=f"{username}@orderly.local", password=DEMO_PASSWORD)
        if staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    customer_account_ensure(user)
    return user
