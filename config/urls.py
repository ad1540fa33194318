from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core.exceptions import API_NOT_FOUND, api_not_found
from core.health import health
from core.login_throttle import throttled_admin_login

api_v1 = [
    path("", include("orders.urls")),
    path("", include("inventory.urls")),
    path("", include("payments.urls")),
    path("", include("fulfillment.urls")),
    path("", include("returns.urls")),
    path("", include("notifications.urls")),
    path("", include("orders.channels.urls")),
    path("", include("operations.urls")),
    path("", include("reports.urls")),
    path("", include("invoicing.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/api/docs/", permanent=False)),
    path("admin/login/", throttled_admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    # Last: the JSON 404 (or trailing-slash redirect) for any other /api/ URL.
    re_path(r"^api(?:/|$)", api_not_found, name=API_NOT_FOUND),
]

handler400 = "core.exceptions.handler400"
handler403 = "core.exceptions.handler403"
handler404 = "core.exceptions.handler404"
handler500 = "core.exceptions.handler500"
