from __future__ import annotations

import re

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


def test_the_api_docs_load_from_local_files(client):
    page = client.get("/api/docs").content.decode()
    assert "cdn." not in page and "unpkg" not in page
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts
    for src in scripts:
        response = client.get(src)
        assert response.status_code == 200, src
        assert b"".join(response.streaming_content if response.streaming else [response.content])


def test_every_operation_declares_its_responses(client):
    spec = client.get("/api/openapi.json").json()
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            success = [c for c in operation["responses"] if c.startswith("2")]
            documented = all(
                "content" in operation["responses"][code] or code == "204" for code in success
            )
            errors = {"401", "404"} <= set(operation["responses"])
            if not success or not documented or not errors:
                missing.append(f"{method.upper()} {path}")
    assert not missing, missing
