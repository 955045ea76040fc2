"""The pages work under their own Content-Security-Policy (no inline script, no eval): the
live page runs a whole run, the editor loads, and the browser reports no violation."""

from __future__ import annotations

import pytest

from cascade.writer.models import Content
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path, site):
    with Server(log=tmp_path / "serve.log", CASCADE_AI_LATENCY="4:0.02") as server:
        yield server


def test_the_live_page_and_the_editor_run_under_the_csp(playwright_browser, login, server, site):
    page = login(playwright_browser, csp=True)
    response = page.goto(f"{server.url}/sites/{site.pk}/automation/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("#connection[data-state=live]").wait_for(timeout=10_000)
    page.get_by_test_id("run-now").click()
    page.get_by_test_id("completion-summary").wait_for(timeout=120_000)
    assert page.get_by_test_id("global-progress").get_attribute("data-completed") is not None

    article = Content.objects.filter(site=site).first()
    page.goto(f"{server.url}/sites/{site.pk}/content/{article.pk}/edit/")
    page.locator("[data-testid=editor] .ql-editor").wait_for(timeout=10_000)  # Quill started
    page.goto(f"{server.url}/api/docs")  # exempt: Swagger UI starts from an inline script
    page.locator(".swagger-ui").first.wait_for(timeout=10_000)
    assert page.errors == [], page.errors
