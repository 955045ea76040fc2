"""axe-core (4.14, from the npm registry; `scripts/fetch-axe`) finds no violation, of any impact,
on any page a person uses: the Automation page before, during and after a run, the run's detail,
Sites, Keywords, Clusters, Ideas, Articles, an article and its editor, Settings, Notifications,
Account and the login page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cascade.automation import config, engine
from cascade.automation.models import AutomationRun
from cascade.writer.models import Content
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parents[1] / "var" / "vendor" / "axe.min.js"


@pytest.fixture(scope="module")
def axe_script() -> str:
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE} is missing: scripts/test-services fetches it (scripts/fetch-axe)")
        pytest.skip("axe-core is not fetched: run scripts/fetch-axe")
    return AXE.read_text()


def violations(page, axe_script: str) -> list[str]:
    """Every violation axe finds on the page as it is now, one line each (rule, impact, where)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_script)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', ')}`)"""
    )
    return found


@pytest.fixture
def server(tmp_path, site):
    with Server(log=tmp_path / "serve.log", CASCADE_AI_LATENCY="4:1.0,5:0.05,6:0.05") as server:
        yield server


def test_no_page_has_an_accessibility_violation(
    playwright_browser, login, server, site, axe_script
):
    # Pictures turned off: the run has a skipped stage, whose greyed card must read well too.
    planned = config.load(site)
    config.save(site, {**planned, "stages_enabled": [True] * 5 + [False, True]})
    page = login(playwright_browser)
    base = f"{server.url}/sites/{site.pk}"
    report: dict[str, list[str]] = {}

    def check(name: str, url: str | None = None) -> None:
        if url:
            page.goto(url)
            page.wait_for_load_state("load")
        report[name] = violations(page, axe_script)

    check("automation before a run", f"{base}/automation/")
    page.get_by_test_id("run-now").click()
    page.wait_for_function(
        "(document.querySelector('[data-testid=current-stage]')||{dataset:{}}).dataset.stage === '4'",
        timeout=60_000,
    )
    check("automation during a run")
    run = AutomationRun.objects.get()
    engine.pause_run(run.pk)
    page.wait_for_function(
        "document.querySelector('[data-testid=run-status]').textContent.startsWith('Paused')",
        timeout=30_000,
    )
    check("automation paused")
    engine.resume_run(run.pk)
    page.wait_for_selector("[data-testid=completion-summary]", timeout=120_000)
    check("automation after a run")
    article = Content.objects.filter(site=site).first()
    for name, url in (
        ("run detail", f"{base}/automation/runs/{run.pk}/"),
        ("sites", f"{server.url}/sites/"),
        ("keywords", f"{base}/keywords/"),
        ("clusters", f"{base}/clusters/"),
        ("ideas", f"{base}/ideas/"),
        ("articles", f"{base}/content/"),
        ("an article", f"{base}/content/{article.pk}/"),
        ("its editor", f"{base}/content/{article.pk}/edit/"),
        ("settings", f"{base}/settings/"),
        ("notifications", f"{base}/settings/notifications/"),
        ("account", f"{server.url}/account/"),
    ):
        check(name, url)
    stranger = playwright_browser.new_context(bypass_csp=True)  # (so axe's script may run)
    anonymous = stranger.new_page()
    anonymous.goto(f"{server.url}/login/")
    report["login"] = violations(anonymous, axe_script)
    stranger.close()
    found = {name: lines for name, lines in report.items() if lines}
    assert not found, "\n".join(
        f"{name}: {line}" for name, lines in found.items() for line in lines
    )
