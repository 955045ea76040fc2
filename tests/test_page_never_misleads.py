"""The Automation page never misleads (issue: outcomes, the first half-second, numbers that agree,
words for people, failures, credits in view) — in Chromium against `cascade serve`."""

from __future__ import annotations

import re
import time

import pytest

from cascade.accounts import credits
from cascade.automation import engine, progress
from cascade.automation.models import AutomationRun
from cascade.planner.importing import import_rows
from tests.browser import shot
from tests.conftest import DEMO, keywords_of, wait_for
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
LATENCY = "1:0.02,2:0.2,4:0.35,5:0.05,6:0.1"


@pytest.fixture
def server(request, tmp_path, site):
    env = {"CASCADE_AI_LATENCY": LATENCY, **getattr(request, "param", {})}
    with Server(log=tmp_path / "serve.log", **env) as server:
        yield server


def open_automation(login, browser, server, site, **size):
    page = login(browser, **size)
    page.goto(f"{server.url}/sites/{site.pk}/automation/")
    page.wait_for_function("document.getElementById('connection').dataset.state === 'live'")
    return page


def boxes_overlap(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


REFUSE_CLUSTERS = {
    "CASCADE_AI_PROVIDER": "tests.providers.RefusingProvider",
    "CASCADE_TEST_REFUSE": "cluster_keywords",
}


@pytest.mark.parametrize("server", [REFUSE_CLUSTERS], indirect=True)
def test_a_run_whose_items_all_failed_looks_failed(playwright_browser, login, server, site):
    page = open_automation(login, playwright_browser, server, site)
    page.get_by_test_id("run-now").click()
    summary = page.get_by_test_id("completion-summary")
    summary.wait_for(timeout=60_000)
    assert page.get_by_test_id("summary-title").inner_text() == "Failed: 0 of 40 keywords clustered"
    assert summary.get_attribute("data-outcome") == "failed"
    border = summary.evaluate("e => getComputedStyle(e).borderLeftColor")
    assert border == "rgb(192, 57, 43)", border  # the colour of failure, not of success
    assert page.title() == "Failed: 0 of 40 keywords clustered · Cascade"
    # What was done, not "100 %"; stage 1's bar is all failed items, drawn red, none done.
    assert page.get_by_test_id("headline").inner_text() == "0 done"
    one = page.get_by_test_id("stage-card-1")
    assert one.locator(".fill:not(.failed-fill)").evaluate("e => e.style.width") == "0%"
    failed_fill = one.locator(".failed-fill")
    assert failed_fill.evaluate("e => e.style.width") == "100%"
    assert failed_fill.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(192, 57, 43)"
    for n in range(2, 8):
        card = page.get_by_test_id(f"stage-card-{n}")
        assert card.get_attribute("data-status") == "skipped"
        assert card.locator("[role=progressbar]").count() == 0, "a skipped stage shows no bar"
        assert "Skipped" in card.inner_text()
    groups = page.get_by_test_id("error-groups").inner_text()
    assert "40 × The AI provider refused the request" in groups
    assert "40 of 40 failed" in groups
    shot(page, "10-1-failed-run")
    page.get_by_role("link", name="show the items").first.click()
    rows = page.get_by_test_id("item-row")
    assert rows.count() == 40 and rows.first.get_attribute("data-state") == "failed"
    shot(page, "10-6-failed-items")
    rows.first.get_by_test_id("retry-item").click()  # one item, again, as a new run
    page.wait_for_url(f"**/sites/{site.pk}/automation/")
    retry = AutomationRun.objects.get(trigger="retry")
    assert retry.initial_snapshot["stage_1_initial"] == 1
    assert retry.initial_snapshot["total_initial_items"] == 1


def test_run_now_shows_the_new_run_at_once(playwright_browser, login, server, site, alice):
    run = engine.start_run(site)
    engine.run_until_idle()
    import_rows(site, keywords_of(DEMO)[40:80])  # more work for a second run
    page = open_automation(login, playwright_browser, server, site)
    assert "Completed" in page.get_by_test_id("completion-summary").inner_text()
    first = page.evaluate("""() => {
        document.querySelector('[data-testid=run-now]').click();
        const shown = (css) => [...document.querySelectorAll(css)].filter(e => e.checkVisibility());
        const g = shown('[data-testid$=global-progress]')[0];
        const dds = [...g.querySelectorAll('.facts dd')].map(d => d.getBoundingClientRect().toJSON());
        const cards = shown('[data-testid*=stage-card-]');
        return {status: g.dataset.runStatus, text: g.textContent, dds,
                cards: cards.map(c => [c.dataset.status, c.querySelector('[data-testid$=card-total]').textContent.trim()]),
                summary: shown('[data-testid=completion-summary]').length > 0};
    }""")
    assert first["status"] == "queued" and "Starting…" in first["text"] and not first["summary"]
    assert first["cards"][0][0] == "active"
    assert all(status == "pending" for status, _ in first["cards"][1:]), first["cards"]
    assert all(total.startswith("≈") for _, total in first["cards"][1:]), first["cards"]
    assert "Completed" not in [status for status, _ in first["cards"]]
    for i, a in enumerate(first["dds"]):  # the four facts sit side by side, never on each other
        for b in first["dds"][i + 1 :]:
            assert not boxes_overlap(a, b), (a, b)
    shot(page, "10-2-starting")
    page.wait_for_function(
        "document.querySelector('[data-testid=global-progress]').dataset.runStatus === 'running'"
    )
    assert AutomationRun.objects.exclude(pk=run.pk).get().status in ("running", "completed")


def test_the_numbers_tell_one_story(playwright_browser, login, server, site):
    """The whole-run block states one fraction, its percentage, and says what it counts; the
    bar draws it; the counts beside it (items done and failed, what the run makes) form no
    fraction that could tell another story; "items" is explained there."""
    import_rows(site, keywords_of(DEMO)[40:120])
    page = open_automation(login, playwright_browser, server, site)
    idle = page.get_by_test_id("stage-card-1")
    assert idle.get_by_test_id("card-total").inner_text() == "120"  # the keywords waiting
    assert (
        page.get_by_test_id("stage-card-4")
        .get_by_test_id("card-total")
        .inner_text()
        .startswith("≈")
    )
    page.get_by_test_id("run-now").click()
    page.wait_for_selector("[data-testid=global-progress]")
    seen_estimate, seen_exact, checks, shot_taken = False, False, 0, False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        doc = page.evaluate("""() => {
            const g = document.querySelector('[data-testid=global-progress]');
            if (!g) return null;
            const segs = [...g.querySelectorAll('.seg')].map(s => ({share: parseFloat(s.style.flexGrow),
                fill: parseFloat(s.style.getPropertyValue('--fill'))}));
            const text = (id) => g.querySelector(`[data-testid=${id}]`).textContent.replace(/\\s+/g, ' ').trim();
            return {pct: +g.dataset.percentage, completed: +g.dataset.completed, status: g.dataset.runStatus, segs,
                    headline: text('headline'), unit: text('unit'), items: text('global-items'),
                    measure: text('measure-legend'), whole: g.textContent.replace(/\\s+/g, ' '),
                    legend: !!g.querySelector('[data-testid=estimate-legend]')};
        }""")
        if doc is None or doc["status"] == "completed":
            break
        shares = sum(s["share"] for s in doc["segs"])
        assert 99 <= shares <= 101, doc["segs"]
        drawn = sum(s["share"] * s["fill"] / 100 for s in doc["segs"])
        if doc["pct"] < 99:
            # what the bar draws is the percentage it states (which never goes back, so it
            # may stay a point or two above a drawing that an estimate just enlarged)
            assert drawn - 1.5 <= doc["pct"] <= drawn + 6, (drawn, doc)
        assert doc["headline"] == f"{doc['pct']} %", doc
        # No other fraction in the block: no "x / y", no "x of y" beside the percentage (but
        # "stage 3 of 7", which says where the run is, not how much of it is done).
        whole = re.sub(r"[Ss]tage \d+ of \d+", "", doc["whole"])
        assert not re.search(r"\d\s*/\s*≈?\s*\d|\d of ≈?\s*\d", whole), doc["whole"]
        assert re.fullmatch(r"[\d,]+ items? done( · [\d,]+ failed)?", doc["items"]), doc["items"]
        assert int(doc["items"].split()[0].replace(",", "")) == doc["completed"], doc
        assert re.fullmatch(r"Making (≈ )?[\d,]+ articles", doc["unit"]), doc["unit"]
        assert "expected work" in doc["measure"] and "Items are the keywords" in doc["measure"]
        # A "≈" is always explained; the explanation goes once every total is known.
        assert doc["legend"] or not doc["unit"].startswith("Making ≈"), doc
        seen_estimate |= doc["legend"]
        seen_exact |= not doc["legend"]
        if not shot_taken and doc["pct"] > 20:
            shot(page, "10-3-numbers-agree")
            shot_taken = True
        checks += 1
        page.wait_for_timeout(150)
    assert checks >= 20 and seen_estimate and seen_exact, (checks, seen_estimate, seen_exact)
    run = AutomationRun.objects.get()
    stages = progress.build_snapshot(run)["stages"]
    assert stages[4]["status"] == "completed"  # the "≈" went away once totals were known
    page.wait_for_selector("[data-testid=completion-summary]")
    assert page.get_by_test_id("headline").inner_text() == "100 %"  # all of it succeeded
    assert re.fullmatch(r"[\d,]+ articles written", page.get_by_test_id("unit").inner_text())
    # the run's duration, to the second, in its summary and in the history below it
    took = page.get_by_test_id("summary-duration").inner_text()
    assert re.fullmatch(r"(\d+m )?\d+s", took), took
    page.wait_for_selector("[data-testid=history-duration]")
    assert page.get_by_test_id("history-duration").first.inner_text() == took


def test_words_are_for_people(playwright_browser, login, gated_server, site):
    server = gated_server
    server.gate.write_text("closed")
    page = open_automation(login, playwright_browser, server, site)
    assert page.get_by_test_id("credits").inner_text().startswith("Credits: 1,000,000 available")
    provider = page.get_by_test_id("provider")
    provider.locator("summary").click()
    assert "No AI service is connected" in provider.inner_text()
    page.get_by_test_id("run-now").click()
    page.wait_for_function(
        "(document.querySelector('[data-testid=current-stage]')||{dataset:{}}).dataset.stage === '4'",
        timeout=60_000,
    )
    # mid-run the header explains the credits held by items in progress
    page.wait_for_function(
        "document.querySelector('[data-testid=credits]').textContent.includes('reserved for items in progress')",
        timeout=10_000,
    )
    # The articles in flight are held at their writing, so the pause has items to finish
    # however slowly this machine runs, and the page must say so until they are done.
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=processing-now] li:not(.muted)').length > 0",
        timeout=10_000,
    )
    page.get_by_test_id("pause").click()
    badges, statuses = set(), set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = page.evaluate("""() => ({
            status: document.querySelector('[data-testid=run-status]').textContent,
            badge: document.querySelector('[data-testid=stage-card-4] .badge').textContent.trim()})""")
        statuses.add(state["status"])
        badges.add(state["badge"].split()[-1])
        if state["status"].startswith("Paused"):
            break
        if "Pausing" in badges and any(s.startswith("Pausing") for s in statuses):
            server.gate.unlink(missing_ok=True)  # now the held articles may finish
        page.wait_for_timeout(20)
    server.gate.unlink(missing_ok=True)
    assert "Pausing" in badges, badges  # the stage says the run is pausing, not "Active"
    pausing = [s for s in statuses if s.startswith("Pausing: finishing ")]
    assert pausing, statuses
    for text in pausing:
        count = int(text.split()[2])
        assert text == f"Pausing: finishing {count} item{'' if count == 1 else 's'}", text
    page.wait_for_function("document.title.startsWith('Paused · ')")
    assert page.get_by_test_id("stage-card-4").locator(".badge").inner_text().endswith("Paused")
    assert page.get_by_test_id("stage-time-left").count() == 0, "no time left while paused"
    assert page.get_by_test_id("time-left").inner_text() == "paused"
    body = page.inner_text("body")
    for raw in ("insufficient_credits", "provider_unavailable", "in_article", "None"):
        assert raw not in body, raw
    shot(page, "10-7-paused-words")


def test_a_run_paused_for_credits_says_what_it_needs(playwright_browser, login, server, site):
    credits.set_balance(site.account, 60)
    page = open_automation(login, playwright_browser, server, site)
    page.get_by_test_id("run-now").click()
    notice = page.get_by_test_id("credits-needed")
    notice.wait_for(timeout=60_000)
    text = notice.inner_text()
    assert "Not enough credits" in text and "needed for the next item" in text
    assert f'cascade credits add "{site.account.name}"' in text
    shot(page, "10-8-paused-for-credits")
    credits.add(site.account, 100_000, note="tests")
    page.wait_for_function(
        "document.querySelector('[data-testid=global-progress]').dataset.runStatus === 'running'",
        timeout=30_000,
    )
    wait_for(lambda: AutomationRun.objects.get().status == "completed", 120)
    page.goto(f"{server.url}/account/")
    # Charges grouped by run and stage (one run here, a row per stage it charged), and the
    # ledger lists the rest row by row: the top-up.
    usage = page.get_by_test_id("usage").locator("tbody tr")
    assert len(set(usage.evaluate_all("rows => rows.map(r => r.dataset.run)"))) == 1
    assert usage.count() >= 4, usage.all_inner_texts()
    rest = page.get_by_test_id("ledger").inner_text()
    assert "+100,000" in rest and "tests" in rest and "→" not in rest
    # A group's rows are one click away: the pictures' charges.
    usage.last.get_by_test_id("charge-rows").click()
    assert "stage 6" in page.get_by_test_id("ledger-group").inner_text()
    group = page.get_by_test_id("ledger").inner_text()
    assert "Image Prompts → Images" in group and "-3" in group and "+100,000" not in group
    assert "available" in page.get_by_test_id("balance").inner_text()
    shot(page, "10-8-account")
