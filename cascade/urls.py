from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from cascade.accounts import views as account_views
from cascade.api import api
from cascade.automation import streams
from cascade.lib import converters  # noqa: F401  (registers <id:...> before any route uses it)
from cascade.web import views as web_views

urlpatterns = [
    path("healthz", web_views.healthz, name="healthz"),
    path("healthz/live", web_views.live_stats, name="live-stats"),
    # The API's event stream is a plain async view (Ninja's views are synchronous).
    path("api/v1/automation/stream/", streams.api_stream, name="api-stream"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("account/", account_views.account_settings, name="account-settings"),
    path("account/tokens/", account_views.token_new, name="token-new"),
    path("account/tokens/<id:token_id>/revoke/", account_views.token_revoke, name="token-revoke"),
    path("sites/new/", account_views.site_new, name="site-new"),
    path("", include("cascade.writer.urls")),
    path("", include("cascade.notify.urls")),
    path("", include("cascade.planner.urls")),
    path("", include("cascade.automation.urls")),
    path("", include("cascade.web.urls")),
]

handler404 = "cascade.lib.errors.not_found"
handler500 = "cascade.lib.errors.server_error"
