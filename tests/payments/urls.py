"""The payments URLs mounted as config/urls.py is expected to mount them, so the
endpoint is tested whether or not the project's urls include it yet."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("payments.urls"))]
