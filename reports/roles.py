"""Ops roles as groups with least-privilege permissions. Used by the
`0001_ops_roles` migration (and safe to re-run: it only adds)."""

from __future__ import annotations

PROJECT_APPS = [
    "inventory",
    "orders",
    "payments",
    "fulfillment",
    "returns",
    "notifications",
    "operations",
]

# (app_label, codename) pairs; "app.*view" means every view_ permission of the app.
ROLES: dict[str, list[str]] = {
    # Runs the shop: everything in the project's apps except deleting records
    # that are history (orders, ledger, payments never go away).
    "Manager": ["*:add", "*:change", "*:view", "orders:review_order"],
    # Sees orders, decides held ones (the group itself comes from orders 0002).
    "Reviewer": ["orders:view_order", "orders:review_order", "orders:change_order"],
    # Picks, packs, ships, receives returns and purchase orders, adjusts stock.
    "Warehouse operator": [
        "orders:view_order",
        "inventory:view",
        "inventory:change_stocklevel",
        "inventory:add_stockmovement",
        "inventory:change_purchaseorder",
        "fulfillment:view",
        "fulfillment:add_shipment",
        "fulfillment:change_shipment",
        "returns:view_returnrequest",
        "returns:change_returnrequest",
    ],
    # Looks, never touches.
    "Read-only": ["*:view"],
}


def _matches(spec: str, app_label: str, codename: str) -> bool:
    app, _, what = spec.partition(":")
    if app not in ("*", app_label):
        return False
    if what in ("add", "change", "view", "delete"):
        return codename.startswith(what + "_")
    return codename == what


def sync_roles(apps, using: str = "default") -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = list(
        Permission.objects.using(using)
        .filter(content_type__app_label__in=PROJECT_APPS)
        .select_related("content_type")
    )
    for name, specs in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(
            *[
                p
                for p in perms
                if any(_matches(s, p.content_type.app_label, p.codename) for s in specs)
            ]
        )
