"""A product set up from the browser: a new user creates a site, imports keywords (file picker
or drag and drop, with a per-row report), manages them, configures the pipeline and runs it; and
the page works on a phone. Chromium against `cascade serve`."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cascade.accounts import credits
from cascade.accounts.models import Account, Membership, Role, Site
from cascade.automation import config as run_config
from cascade.automation import engine, progress
from cascade.automation.models import AutomationRun
from cascade.planner.importing import import_rows
from cascade.planner.models import Keyword
from tests.browser import shot
from tests.conftest import DEMO, keywords_of
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path, garden):
    with Server(log=tmp_path / "serve.log", CASCADE_AI_LATENCY="4:0.05") as server:
        yield server


@pytest.fixture
def dana(django_user_model, garden):
    """A new owner whose account has no site yet."""
    account = Account.objects.create(name="Dana's Shop")
    user = django_user_model.objects.create_user(username="dana", password="dana-password")
    Membership.objects.create(user=user, account=account, role=Role.OWNER)
    return user


def test_a_new_owner_sets_up_a_site_without_the_command_line(
    playwright_browser, login, server, dana, tmp_path
):
    page = login(playwright_browser, user=dana)
    page.goto(f"{server.url}/")
    empty = page.get_by_test_id("sites-empty")
    assert "You have no sites yet" in empty.inner_text()
    assert page.get_by_role("link", name="Admin").count() == 0, "owners are not sent to the admin"
    shot(page, "10-9-no-sites")
    empty.get_by_role("link", name="Create your first site").click()

    page.fill("#name", "\u202egnp.evil")  # a bidi override would spoof the name
    page.get_by_test_id("create-site").click()
    assert "visible characters only" in page.inner_text("main")
    page.fill("#name", "Dana's Kitchen")
    page.fill("#domain", "kitchen.example")
    page.get_by_test_id("create-site").click()
    site = Site.objects.get(name="Dana's Kitchen")
    assert page.url.endswith(f"/sites/{site.pk}/keywords/")
    assert "No keywords yet" in page.get_by_test_id("keywords-empty").inner_text()

    upload = tmp_path / "keywords.csv"
    rows = DEMO.read_text().splitlines()[:61] + [
        "HOW TO GROW TOMATOES IN POTS,5,,",
        ",,,",
        "x" * 300,
    ]
    upload.write_text("\n".join(rows) + "\n")
    zone, picker = page.get_by_test_id("dropzone"), page.get_by_test_id("import-file")
    # the file input covers the whole drop zone, so a file dropped anywhere on it is taken
    outer, inner = zone.bounding_box(), picker.bounding_box()
    assert all(abs(outer[k] - inner[k]) <= 4 for k in ("x", "y", "width", "height")), (outer, inner)
    assert page.get_by_test_id("import-submit").inner_text() == "Import"
    picker.set_input_files(str(upload))  # (what a drop does): it is imported at once
    report = page.get_by_test_id("import-report")
    report.wait_for()
    assert page.get_by_test_id("import-submit").inner_text() == "Import again"
    assert re.fullmatch(
        r"keywords\.csv · \d+ KiB", page.get_by_test_id("import-file-name").inner_text()
    )
    assert page.get_by_test_id("import-created").inner_text() == "60"
    assert page.get_by_test_id("import-duplicates").inner_text() == "1"
    assert page.get_by_test_id("import-rejected").inner_text() == "2"
    rejections = page.get_by_test_id("rejections").inner_text()
    assert "keyword is empty" in rejections and "keyword is too long" in rejections
    duplicates = page.get_by_test_id("duplicates").inner_text()
    assert "HOW TO GROW TOMATOES IN POTS" in duplicates and "the same keyword as row" in duplicates
    page.wait_for_function(
        "document.querySelector('[data-testid=keyword-count]').textContent.startsWith('60 keywords')"
    )
    shot(page, "10-9-imported")
    page.get_by_test_id("import-submit").click()  # the same file again: nothing new
    page.wait_for_function(
        "document.querySelector('[data-testid=import-duplicates]').textContent === '61'"
    )
    assert page.get_by_test_id("import-created").inner_text() == "0"

    page.fill("input[name=q]", "tomato")
    page.get_by_role("button", name="Filter").click()
    shown = page.get_by_test_id("keyword-row")
    assert 0 < shown.count() < 60
    assert all("tomato" in text.lower() for text in shown.all_inner_texts())
    first, second = (shown.nth(i).locator("input[name=ids]") for i in (0, 1))
    first.check()
    second.check()
    page.get_by_test_id("bulk-disable").click()
    assert "2 keywords disabled." in page.inner_text("main")
    assert Keyword.objects.filter(site=site, disabled=True).count() == 2
    page.locator("[data-select-all]").check()
    page.get_by_test_id("bulk-delete").click()
    assert "keywords deleted." in page.inner_text("main")
    assert not Keyword.objects.filter(site=site, keyword__icontains="tomato").exists()

    page.goto(f"{server.url}/sites/{site.pk}/settings/")
    page.fill("#ideas_per_cluster", "2")
    page.uncheck("[data-testid=enable-stage-6]")
    page.fill("#max_credits_per_run", "0")
    page.get_by_test_id("save-settings").click()
    assert page.get_by_test_id("settings-errors").is_visible()
    assert run_config.load(site)["ideas_per_cluster"] == 3, "a refused form changes nothing"
    page.fill("#max_credits_per_run", "50000")
    page.get_by_test_id("save-settings").click()
    assert "Settings saved." in page.inner_text("main")
    saved = run_config.load(site)
    assert saved["ideas_per_cluster"] == 2 and saved["stages_enabled"][5] is False
    assert saved["max_credits_per_run"] == 50_000
    shot(page, "10-9-settings")

    page.goto(f"{server.url}/sites/{site.pk}/automation/")
    reason = page.get_by_test_id("run-now-reason").inner_text()
    assert reason.startswith("Not enough credits: about ") and reason.endswith(", 0 left"), reason
    credits.add(site.account, 50_000, note="First purchase")
    page.reload()
    page.wait_for_function("document.getElementById('connection').dataset.state === 'live'")
    page.get_by_test_id("run-now").click()
    page.get_by_test_id("completion-summary").wait_for(timeout=90_000)
    assert page.get_by_test_id("stage-card-6").get_attribute("data-status") == "skipped"
    assert (
        "disabled in this run's configuration" in page.get_by_test_id("stage-card-6").inner_text()
    )
    # Pictures are off, and the articles still reach review (the link shows only when some do).
    assert page.get_by_test_id("review-link").is_visible()
    shot(page, "10-9-first-run")


def test_the_page_on_a_phone(playwright_browser, login, server, site):
    page = login(playwright_browser, width=390, height=844)
    page.goto(f"{server.url}/sites/{site.pk}/automation/")
    run_now = page.get_by_test_id("run-now")
    page.get_by_test_id("run-now").click()
    page.wait_for_function(
        "+document.querySelector('[data-testid=global-progress]')?.dataset.completed > 30",
        timeout=30_000,
    )
    # Paused, so the run is still on the page (not its summary) however fast the machine.
    engine.pause_run(AutomationRun.objects.get(site=site).pk)
    page.wait_for_function(
        "document.querySelector('[data-testid=global-progress]').dataset.runStatus === 'paused'",
        timeout=30_000,
    )
    disabled_bg = run_now.evaluate("b => getComputedStyle(b).backgroundColor")
    assert run_now.is_disabled() and disabled_bg == "rgb(255, 255, 255)", disabled_bg
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    clipped = page.evaluate(
        "[...document.querySelectorAll('[data-testid=global-progress] .seg')]"
        ".filter(s => s.scrollWidth > s.clientWidth + 1).map(s => s.textContent)"
    )
    assert not clipped, f"the whole-run bar's stage labels are cut: {clipped}"
    card = page.get_by_test_id("stage-card-2")
    closed = card.bounding_box()["height"]
    assert closed < 60, "a stage card is one line on a phone"
    assert "/" in card.locator(".oneline").inner_text()
    card.locator("summary").click()
    assert card.bounding_box()["height"] > closed + 60, "tapping a card opens it"
    page.wait_for_timeout(1500)  # live updates keep it open
    assert card.evaluate("c => c.open")
    page.mouse.wheel(0, 3000)  # towards the end of the page, however long it is by then
    page.wait_for_timeout(300)
    bar = page.get_by_test_id("global-progress").bounding_box()
    assert page.evaluate("window.scrollY") > 600, "the page did scroll"
    assert abs(bar["y"]) <= 1, f"the whole-run bar stays at the top while scrolling: {bar}"
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 391)
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    shot(page, "10-10-phone-scrolled", full_page=False)
    page.mouse.wheel(0, -3000)
    page.wait_for_function("window.scrollY === 0")  # (a picture taken mid-scroll is blank)
    shot(page, "10-10-phone", full_page=False)


def test_cheap_pages_stay_cheap(client, alice, garden, site, django_assert_max_num_queries):
    for n in range(12):
        Site.objects.create(account=garden, name=f"Extra {n}")
    client.force_login(alice)
    client.get(f"/sites/{site.pk}/automation/")  # warm up what is cached per process
    with django_assert_max_num_queries(10):
        assert client.get("/sites/").status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(f"/sites/{site.pk}/keywords/").status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(f"/sites/{site.pk}/automation/").status_code == 200


def test_the_automation_page_costs_the_same_whatever_the_history(client, alice, site):
    client.force_login(alice)

    def cost() -> int:
        client.get(f"/sites/{site.pk}/automation/")  # what is cached per process
        progress.forget()  # the measured request builds its snapshot, however long ago the last
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/sites/{site.pk}/automation/").status_code == 200
        return len(captured)

    engine.start_run(site)
    engine.run_until_idle()
    first = cost()
    for rows in (keywords_of(DEMO)[40:50], keywords_of(DEMO)[50:60]):
        import_rows(site, rows)
        engine.start_run(site)
        engine.run_until_idle()
    assert cost() == first, "more runs and keywords must not cost more queries"
    assert client.get(f"/sites/{site.pk}/keywords/?page=abc").status_code == 200
