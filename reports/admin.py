"""Admin wiring for reports (loaded by admin autodiscovery; `reports` is the
last installed app, so every other app's admin is registered by now).

- The ops dashboard at /admin/reports/dashboard/ (`admin:reports_dashboard`),
  added to the default admin site's URLs: reports has no models of its own.
- "Export selected orders to CSV" on the Order changelist. It is attached here
  rather than written in `orders/admin.py` because `reports` sits on top of the
  dependency graph: it may import `orders`, never the other way round."""

from django.contrib import admin
from django.urls import path

from orders.models import Order

from .admin_views import dashboard_view, staff_admin_view
from .exports import export_orders_csv


def _install_dashboard(site: admin.AdminSite) -> None:
    if getattr(site, "_reports_dashboard_installed", False):
        return
    base_get_urls = site.get_urls

    def get_urls():
        # Before the admin's catch-all patterns.
        return [
            path(
                "reports/dashboard/",
                staff_admin_view(dashboard_view),
                name="reports_dashboard",
            ),
            *base_get_urls(),
        ]

    site.get_urls = get_urls
    site._reports_dashboard_installed = True


def _install_order_export(site: admin.AdminSite) -> None:
    if not site.is_registered(Order):
        return
    order_admin = site.get_model_admin(Order)
    actions = list(order_admin.actions or [])
    if export_orders_csv not in actions:
        order_admin.actions = [*actions, export_orders_csv]


_install_dashboard(admin.site)
_install_order_export(admin.site)
