from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_openapi_document_lists_the_automation_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for name in (
        "pipeline_overview",
        "run_now",
        "pause",
        "resume",
        "cancel",
        "retry_failed",
        "run_progress",
        "current_run",
        "current_processing",
        "history",
        "logs",
        "config",
    ):
        assert f"/api/v1/automation/{name}/" in paths, name
    assert client.get("/api/docs").status_code == 200
