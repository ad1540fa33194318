"""Demo data from API.md "Demo data". Idempotent: running it twice changes
nothing the second time (stock is topped up to the demo level with ledger rows
only when it is below it)."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from inventory.models import (
    MovementKind,
    Product,
    ProductPrice,
    StockLevel,
    Warehouse,
    WarehouseMarket,
)
from inventory.services import stock_adjust
from orders.models import CustomerProfile, Market, PromoCode, ShippingMethod

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


class Command(BaseCommand):
    help = (
        "Create the API.md demo data (markets, warehouses, products, stock, WELCOME10, demo users)."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        for (
            code,
            name,
            cur,
            country,
            tax,
            incl,
            methods,
            cod,
            review,
            cod_review,
            shipping,
        ) in MARKETS:
            market, _ = Market.objects.update_or_create(
                code=code,
                defaults=dict(
                    name=name, currency=cur, country=country, tax_rate=D(tax), prices_include_tax=incl,
                    payment_methods=methods, cod_limit=D(cod) if cod else None, review_amount=D(review),
                    cod_review_amount=D(cod_review) if cod_review else None, return_window_days=30, active=True,
                ),
            )  # fmt: skip
            for s_code, s_name, price, free_over in shipping:
                ShippingMethod.objects.update_or_create(
                    market=market,
                    code=s_code,
                    defaults=dict(
                        name=s_name, price=D(price), free_over=D(free_over) if free_over else None
                    ),
                )
        warehouses = {}
        for priority, (code, name, country, markets) in enumerate(WAREHOUSES, start=1):
            wh, _ = Warehouse.objects.update_or_create(
                code=code, defaults=dict(name=name, country=country, priority=priority * 10)
            )
            for m in markets:
                WarehouseMarket.objects.get_or_create(warehouse=wh, market_code=m)
            warehouses[country] = wh
        admin = self._user("admin", superuser=True)
        for sku, name, us, inr, php, stock in PRODUCTS:
            product, _ = Product.objects.update_or_create(
                sku=sku, defaults=dict(name=name, active=True)
            )
            for market_code, amount in (("US", us), ("IN", inr), ("PH", php)):
                ProductPrice.objects.update_or_create(
                    product=product, market_code=market_code, defaults=dict(amount=D(amount))
                )
            for i, wh in enumerate(warehouses.values()):
                level = StockLevel.objects.filter(product=product, warehouse=wh).first()
                missing = stock - (level.on_hand if level else 0)
                if missing > 0:
                    stock_adjust(
                        product=product, warehouse=wh, quantity=missing, actor=admin,
                        reason="demo stock", kind=MovementKind.RECEIPT,
                    )  # fmt: skip
                StockLevel.objects.filter(product=product, warehouse=wh, bin_location="").update(
                    bin_location=f"A{i + 1}-{sku[:3]}"
                )
        PromoCode.objects.update_or_create(
            code="WELCOME10",
            defaults=dict(kind="percent", value=D("10"), min_subtotal=D("20"), active=True),
        )
        self._user("demo")
        reviewer = self._user("reviewer", staff=True)
        reviewers, _ = Group.objects.get_or_create(name="Reviewer")
        reviewers.permissions.add(
            *Permission.objects.filter(codename__in=["review_order", "view_order"])
        )
        reviewer.groups.add(reviewers)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready. Logins (password {DEMO_PASSWORD!r}): admin (superuser), "
                "reviewer (staff, Reviewer group), demo (customer)."
            )
        )

    def _user(self, username: str, *, superuser: bool = False, staff: bool = False):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            factory = User.objects.create_superuser if superuser else User.objects.create_user
            user = factory(
                username=username, email=f"{username}@orderly.local", password=DEMO_PASSWORD
            )
            if staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
        CustomerProfile.objects.get_or_create(user=user)
        Token.objects.get_or_create(user=user)
        return user
