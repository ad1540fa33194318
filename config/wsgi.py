import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from core.startup import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# The URLconf (and the views, serializers and admin it imports) would otherwise
# load on the first request: load it now, so it is frozen with the rest.
get_resolver().url_patterns  # noqa: B018
freeze_startup_objects()
