from __future__ import annotations

from django.urls import include, path

from cascade.automation import run_detail, streams, views

# Under /sites/<site_id>/automation/.
automation = [
    path("", views.automation_page, name="automation"),
    path("stream/", streams.automation_stream, name="automation-stream"),
    path("actions/<slug:action>/", views.automation_action, name="automation-action"),
]

urlpatterns = [
    path("sites/<id:site_id>/automation/", include(automation)),
    path(
        "sites/<id:site_id>/automation/runs/<uuid:run_id>/",
        run_detail.run_detail,
        name="run-detail",
    ),
]
