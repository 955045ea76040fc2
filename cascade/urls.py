from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from cascade.api import api
from cascade.automation import views as automation_views  # noqa: I001

urlpatterns = [
    path("healthz", automation_views.healthz, name="healthz"),
    path("healthz/live", automation_views.live_stats, name="live-stats"),
    # The API's event stream is a plain async view (Ninja's views are synchronous).
    path("api/v1/automation/stream/", automation_views.api_stream, name="api-stream"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    re_path(r"^media/(?P<path>.*)$", automation_views.media),
    path("", include("cascade.automation.urls")),
]
