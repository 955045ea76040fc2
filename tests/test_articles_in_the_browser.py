"""Reading, reviewing, editing, exporting and publishing articles in Chromium against
`cascade serve` (and its embedded worker publishing to the test WordPress)."""

from __future__ import annotations

import io
import zipfile

import pytest

from cascade.planner.models import ContentIdea
from cascade.writer import links
from cascade.writer.models import Content, ContentStatus, Task, TaskStatus
from tests.browser import shot
from tests.conftest import wait_for
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path, garden):
    with Server(log=tmp_path / "serve.log", CASCADE_PUBLISH_ALLOW_PRIVATE="1") as server:
        yield server


def test_review_an_article_by_keyboard_and_edit_it(playwright_browser, login, server, written):
    page = login(playwright_browser)
    page.goto(f"{server.url}/sites/{written.pk}/automation/")
    page.get_by_test_id("review-link").click()  # the completion summary leads to the review tab
    assert page.url.endswith("/content/?status=review")
    waiting = Content.objects.filter(site=written, status=ContentStatus.REVIEW).count()
    assert page.get_by_test_id("tab-review").inner_text().endswith(str(waiting))
    assert page.get_by_test_id("article-row").count() == min(waiting, 25)
    shot(page, "11-articles-review")

    page.get_by_test_id("article-link").first.click()
    body = page.get_by_test_id("article-body")
    first_title = page.get_by_test_id("article-title").inner_text()
    pictures = body.locator("figure img")
    assert pictures.count() >= 2
    pictures.first.evaluate("i => i.decode()")  # the featured picture is shown
    assert pictures.first.evaluate("i => i.naturalWidth") > 0
    statuses = page.evaluate(
        "Promise.all([...document.querySelectorAll('figure img')].map(i => fetch(i.src).then(r => r.status)))"
    )
    assert statuses == [200] * pictures.count()  # the others load as they scroll into view
    assert body.locator("figure").first.evaluate(
        "f => f.previousElementSibling === null"
    )  # featured first
    assert (
        "of 1,200 targeted" in page.get_by_test_id("word-count").inner_text()
        or "targeted" in page.get_by_test_id("word-count").inner_text()
    )
    assert "/ 160" in page.get_by_test_id("meta-description").inner_text()
    assert page.get_by_test_id("keywords").inner_text() != "—"
    shot(page, "11-article")

    with page.expect_navigation():
        page.keyboard.press("a")  # approve: on to the next in the tab
    assert page.get_by_test_id("article-title").inner_text() != first_title
    assert Content.objects.get(site=written, title=first_title).status == ContentStatus.APPROVED
    second_title = page.get_by_test_id("article-title").inner_text()
    page.keyboard.press("r")  # reject: the reason field takes the focus; empty is refused
    assert page.evaluate("document.activeElement.name") == "reason"
    page.keyboard.type("Says nothing about soil")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    rejected = Content.objects.get(site=written, title=second_title)
    assert (
        rejected.status == ContentStatus.REJECTED
        and rejected.review_note == "Says nothing about soil"
    )
    third_title = page.get_by_test_id("article-title").inner_text()
    with page.expect_navigation():
        page.keyboard.press("j")  # on to the next one
    with page.expect_navigation():
        page.keyboard.press("k")  # and back
    assert page.get_by_test_id("article-title").inner_text() == third_title

    page.goto(f"{server.url}/sites/{written.pk}/content/{rejected.pk}/?tab=rejected")
    assert "Says nothing about soil" in page.get_by_test_id("review-note").inner_text()
    page.keyboard.press("e")
    page.wait_for_url(f"**/content/{rejected.pk}/edit/")
    editor = page.locator(".ql-editor")
    editor.wait_for()
    assert page.get_by_test_id("html-source").is_hidden()
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("A fresh opening line. ")
    page.fill("#meta_title", "x" * 60)
    assert page.locator("[data-count-for=meta_title]").inner_text() == "60 / 60"
    shot(page, "11-edit")
    page.get_by_test_id("save").click()
    page.wait_for_url(f"**/content/{rejected.pk}/")
    rejected.refresh_from_db()
    assert "A fresh opening line." in rejected.html and "&nbsp;" not in rejected.html
    assert rejected.html.count("<figure") == rejected.images.count()  # pictures put back
    assert rejected.meta_title == "x" * 60
    assert not page.errors, page.errors


def test_rewrite_with_a_note_and_the_lists_of_clusters_and_ideas(
    playwright_browser, login, server, written
):
    page = login(playwright_browser)
    article = Content.objects.filter(site=written).order_by("id").first()
    page.goto(f"{server.url}/sites/{written.pk}/content/{article.pk}/")
    page.get_by_test_id("rewrite-note").fill("Add a section on watering")
    with page.expect_navigation():
        page.get_by_test_id("rewrite").click()
    article.refresh_from_db()
    assert (
        article.status == ContentStatus.DRAFT
        and Task.objects.get(pk=article.task_id).status == TaskStatus.QUEUED
    )
    assert "Add a section on watering" in page.get_by_test_id("review-note").inner_text()

    page.goto(f"{server.url}/sites/{written.pk}/clusters/")
    rows = page.get_by_test_id("cluster-row")
    assert rows.count() == written.clusters.count()
    page.get_by_test_id("cluster-article").first.click()
    assert "/content/" in page.url
    page.goto(f"{server.url}/sites/{written.pk}/ideas/")
    assert (
        page.get_by_test_id("idea-row").count() == ContentIdea.objects.filter(site=written).count()
    )
    shot(page, "11-ideas")
    assert not page.errors, page.errors


def test_export_from_the_list(playwright_browser, login, server, written):
    page = login(playwright_browser)
    page.goto(f"{server.url}/sites/{written.pk}/content/?status=review")
    rows = page.get_by_test_id("article-row")
    for i in range(2):
        rows.nth(i).locator("input[name=ids]").check()
    with page.expect_download() as download:
        page.get_by_test_id("bulk-export").click()
    data = open(download.value.path(), "rb").read()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert sum(n.endswith("/index.md") for n in names) == 2
    assert any("/images/" in n for n in names)


def make_approved(site, count: int) -> list[int]:
    """Approved articles without pictures (publishing them is quick)."""
    ids = []
    for n in range(count):
        idea = ContentIdea.objects.create(
            site=site, title=f"Bulk article {n}", normalized_title=f"bulk article {n}"
        )
        task = Task.objects.create(
            site=site, idea=idea, title=idea.title, status=TaskStatus.COMPLETED
        )
        html = f"<h2>Part {n}</h2><p>Text of article {n}.</p>"
        ids.append(
            Content.objects.create(
                site=site,
                task=task,
                title=idea.title,
                html=html,
                meta_title=idea.title,
                meta_description=f"About {n}",
                word_count=6,
                status=ContentStatus.APPROVED,
            ).pk
        )
    return ids


def test_connect_wordpress_and_bulk_publish_fifty_with_live_progress(
    playwright_browser, login, server, site, wordpress
):
    page = login(playwright_browser)
    page.goto(f"{server.url}/sites/{site.pk}/settings/")
    page.get_by_test_id("publishing-link").click()
    assert page.get_by_test_id("not-connected").is_visible()
    page.get_by_test_id("wp-url").fill("gopher://blog")
    page.get_by_test_id("save-publishing").click()
    assert "http" in page.get_by_test_id("error-url").inner_text()
    page.get_by_test_id("wp-url").fill(wordpress.url)
    page.get_by_test_id("wp-username").fill(wordpress.user)
    page.get_by_test_id("wp-password").fill(wordpress.password)
    page.get_by_test_id("save-and-test").click()
    assert "may publish posts and upload media" in page.inner_text("main")
    assert page.get_by_test_id("connected").is_visible()
    shot(page, "11-publishing-settings")

    ids = make_approved(site, 50)
    page.goto(f"{server.url}/sites/{site.pk}/content/?status=approved")
    page.locator("[data-select-all]").check()
    page.get_by_test_id("bulk-publish").click()  # the first 25 (one page)
    page.goto(f"{server.url}/sites/{site.pk}/content/?status=approved")
    page.locator("[data-select-all]").check()
    page.get_by_test_id("bulk-publish").click()
    progress = page.get_by_test_id("publish-progress")
    seen = set()
    while "Publishing finished" not in progress.inner_text():
        seen.add(progress.locator(".pct").inner_text())
        if len(seen) == 2:
            shot(page, "11-bulk-publishing")
        page.wait_for_timeout(200)
    assert len(seen) >= 2, seen  # it moved while we watched
    assert "25 of 25 published" in progress.inner_text()  # the latest bulk action's articles
    # The first 25 too; then posts published before their related articles gain the links.
    wait_for(
        lambda: (
            Content.objects.filter(pk__in=ids, status=ContentStatus.PUBLISHED).count() == 50
            and not Content.objects.filter(status=ContentStatus.PUBLISHING).exists()
            and not links.stale_links(site.pk)  # (their link updates are done too)
        ),
        180,
        0.2,
        "the first 25 too, and their links",
    )
    page.goto(f"{server.url}/sites/{site.pk}/content/?status=published")
    assert page.get_by_test_id("tab-published").inner_text().endswith("50")
    shot(page, "11-published")
    assert not page.errors, page.errors


def test_articles_on_a_phone(playwright_browser, login, server, written):
    page = login(playwright_browser, width=390, height=844, touch=True)
    article = Content.objects.filter(site=written).first()
    page.goto(f"{server.url}/sites/{written.pk}/content/{article.pk}/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width} px)"
    # a phone has no keys to press: the review's key hints are not shown on it
    assert page.locator("[data-testid=next], [data-testid=previous]").first.is_visible()
    assert not page.locator("kbd").first.is_visible()
    assert not page.locator(".keys").is_visible()
    shot(page, "11-article-phone")
    page.goto(f"{server.url}/sites/{written.pk}/content/")
    shot(page, "11-articles-phone")
    # The lists' wide tables scroll inside their cards, never the page.
    for path in ("content/", "content/?status=review", "keywords/", "clusters/", "ideas/"):
        page.goto(f"{server.url}/sites/{written.pk}/{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways ({width} px)"


def test_the_pages_run_under_their_content_security_policy(
    playwright_browser, login, server, written
):
    """No inline script and no eval: the live page connects and morphs, the review keys and the
    editor start, and the browser reports no violation (only /api/docs is exempt)."""
    page = login(playwright_browser, csp=True)
    response = page.goto(f"{server.url}/sites/{written.pk}/automation/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("#connection[data-state=live]").wait_for(timeout=10_000)
    article = Content.objects.filter(site=written).first()
    page.goto(f"{server.url}/sites/{written.pk}/content/{article.pk}/")
    page.keyboard.press("e")  # review.js: "e" opens the editor
    page.locator("[data-testid=editor] .ql-editor").wait_for(timeout=10_000)  # Quill started
    page.goto(f"{server.url}/api/docs")  # exempt: Swagger UI starts from an inline script
    page.locator(".swagger-ui").first.wait_for(timeout=10_000)
    assert page.errors == [], page.errors
