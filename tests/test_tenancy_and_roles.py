from __future__ import annotations

import uuid

import pytest
from django.test import Client

from cascade.automation import engine

pytestmark = pytest.mark.django_db

RUN = "{run}"
ENDPOINTS = [
    # (method, path, changes something)
    ("get", "/api/v1/automation/pipeline_overview/?site_id={site}", False),
    ("post", "/api/v1/automation/run_now/?site_id={site}", True),
    ("post", "/api/v1/automation/pause/?site_id={site}&run_id={run}", True),
    ("post", "/api/v1/automation/resume/?site_id={site}&run_id={run}", True),
    ("post", "/api/v1/automation/cancel/?site_id={site}&run_id={run}", True),
    ("post", "/api/v1/automation/retry_failed/?site_id={site}&run_id={run}", True),
    ("get", "/api/v1/automation/run_progress/?site_id={site}", False),
    ("get", "/api/v1/automation/run_progress/?site_id={site}&run_id={run}", False),
    ("get", "/api/v1/automation/current_run/?site_id={site}", False),
    ("get", "/api/v1/automation/current_processing/?site_id={site}", False),
    ("get", "/api/v1/automation/history/?site_id={site}", False),
    ("get", "/api/v1/automation/logs/?site_id={site}&run_id={run}", False),
    ("get", "/api/v1/automation/config/?site_id={site}", False),
    ("put", "/api/v1/automation/config/?site_id={site}", True),
    ("get", "/api/v1/sites/{site}/", False),
    ("get", "/api/v1/sites/{site}/settings/", False),
    ("put", "/api/v1/sites/{site}/settings/", True),
    ("post", "/api/v1/sites/{site}/keywords/", True),
    ("get", "/api/v1/sites/{site}/keywords/", False),
    ("get", "/api/v1/sites/{site}/clusters/", False),
    ("get", "/api/v1/sites/{site}/ideas/", False),
    ("get", "/api/v1/sites/{site}/tasks/", False),
    ("get", "/api/v1/sites/{site}/content/", False),
    ("get", "/api/v1/sites/{site}/images/", False),
]
BODIES = {"put": {"target_words": 900}, "post": {"keywords": [{"keyword": "viewer keyword"}]}}


@pytest.fixture
def run(site):
    return engine.start_run(site)


def call(client: Client, method: str, path: str):
    body = BODIES.get(method) if "keywords" in path or method == "put" else None
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.mark.parametrize(("method", "path", "changes"), ENDPOINTS)
def test_another_accounts_site_is_not_found(method, path, changes, site, run, bob, token_for):
    client = Client(headers={"Authorization": f"Bearer {token_for(bob)}"})
    response = call(client, method, path.format(site=site.pk, run=run.pk))
    assert response.status_code == 404, response.content
    assert "not found" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "changes"), ENDPOINTS)
def test_no_credentials_means_401(method, path, changes, site, run):
    response = call(Client(), method, path.format(site=site.pk, run=run.pk))
    assert response.status_code == 401
    assert "Authentication required" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "changes"), ENDPOINTS)
def test_a_viewer_watches_but_cannot_change(method, path, changes, site, run, carol, token_for):
    client = Client(headers={"Authorization": f"Bearer {token_for(carol)}"})
    response = call(client, method, path.format(site=site.pk, run=run.pk))
    if changes:
        assert response.status_code == 403, response.content
        assert "viewer" in response.json()["detail"]
    else:
        assert response.status_code == 200, response.content


def test_an_unknown_run_of_a_known_site_is_not_found(site, api):
    response = api.get(f"/api/v1/automation/run_progress/?site_id={site.pk}&run_id={uuid.uuid4()}")
    assert response.status_code == 404


def test_a_wrong_token_is_refused(site):
    client = Client(headers={"Authorization": "Bearer csk_not-a-real-token"})
    assert client.get(f"/api/v1/sites/{site.pk}/").status_code == 401


def test_an_editor_may_run(site, erin, token_for):
    client = Client(headers={"Authorization": f"Bearer {token_for(erin)}"})
    assert client.post(f"/api/v1/automation/run_now/?site_id={site.pk}").status_code == 201


def test_the_browser_session_works_and_checks_csrf(site, alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get(f"/api/v1/sites/{site.pk}/").status_code == 200
    assert browser.post(f"/api/v1/automation/run_now/?site_id={site.pk}").status_code == 403
