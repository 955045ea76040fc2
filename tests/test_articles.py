"""Articles after a run (contract §8): sanitised and with their pictures in place, reviewed
through the pages and the API, exported as a ZIP, and shown only to the site's account."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cascade.planner.importing import import_rows
from cascade.writer import review
from cascade.writer.models import Content, ContentStatus, Image, Task, TaskStatus
from tests.conftest import DEMO, keywords_of, run_to_end

pytestmark = pytest.mark.django_db(transaction=True)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_article_is_sanitised_and_has_its_pictures_in_place(written):
    articles = list(Content.objects.filter(site=written).prefetch_related("images"))
    assert articles and all(a.status == ContentStatus.REVIEW for a in articles)
    for article in articles:
        images = sorted(article.images.all(), key=lambda i: i.position)
        figures = re.findall(
            r'<figure data-image="(\d+)"><img src="([^"]+)" alt="([^"]+)"', article.html
        )
        assert [int(f[0]) for f in figures][:1] == [images[0].pk]  # the featured picture first
        assert images[0].kind == "featured"
        assert sorted(int(f[0]) for f in figures) == sorted(i.pk for i in images)
        assert all(src == i.url for (_, src, _), i in zip(figures, images, strict=True))
        assert all(alt.strip() for _, _, alt in figures)
        # Each in-article picture comes right after the heading of the section it was made for.
        for image in (i for i in images if i.kind == "in_article"):
            heading = f"<h2>{html.escape(image.section, quote=False)}</h2>"
            assert heading in article.html, image.section
            after = article.html.split(heading, 1)[1]
            assert after.lstrip().startswith(f'<figure data-image="{image.pk}"')
        assert "<h1" not in article.html and "<script" not in article.html
        assert re.search(r"/media/sites/\d+/images/[A-Za-z0-9_-]{20,}\.png", images[0].url)


@pytest.mark.django_db(transaction=True)
def test_html_from_a_hostile_ai_is_stored_clean(site, settings):
    settings.CASCADE_AI_PROVIDER = "tests.providers.HostileProvider"
    from cascade.ai import reset_provider_cache

    reset_provider_cache()
    run_to_end(site)
    html = "".join(Content.objects.filter(site=site).values_list("html", flat=True))
    assert html
    for bad in (
        "<script",
        "onclick",
        "onmouseover",
        "onerror",
        "javascript:",
        "<iframe",
        "style=",
        "<h1",
    ):
        assert bad not in html, bad
    assert 'href="https://example.org/ok"' in html and "Done &amp; dusted." in html
    assert 'rel="noopener noreferrer"' in html


def test_pictures_are_shown_only_to_members_of_the_account(written, alice, carol, bob):
    image = Image.objects.filter(site=written).exclude(file="").first()
    assert login(alice).get(image.url).status_code == 200
    assert login(carol).get(image.url).status_code == 200  # a viewer of the account
    assert Client().get(image.url).status_code == 404
    assert login(bob).get(image.url).status_code == 404
    # Neither the old guessable names nor paths outside the site's files answer.
    for path in (
        f"/media/sites/{written.pk}/images/1-0-featured.png",
        f"/media/sites/{written.pk}/../../db.sqlite3",
        "/media/" + image.file.replace(written.pk.__str__(), "999", 1),
    ):
        assert login(alice).get(path).status_code == 404


def test_nginx_sends_the_bytes_when_configured(written, alice, settings):
    settings.CASCADE_MEDIA_ACCEL_REDIRECT = "/protected-media/"
    image = Image.objects.filter(site=written).exclude(file="").first()
    response = login(alice).get(image.url)
    assert (
        response.status_code == 200
        and response["X-Accel-Redirect"] == f"/protected-media/{image.file}"
    )
    assert response.content == b""


def test_review_through_the_api(written, api, settings):
    first, second, third = Content.objects.filter(site=written).order_by("id")[:3]
    base = f"/api/v1/sites/{written.pk}/content"
    body = api.get(f"{base}/{first.pk}/").json()
    assert body["status"] == "review" and body["images"][0]["kind"] == "featured"
    assert body["keywords"] and body["cluster_id"] and body["idea_id"]
    assert api.post(f"{base}/{first.pk}/approve/").json()["status"] == "approved"
    again = api.post(f"{base}/{first.pk}/approve/")  # already approved: refused, unchanged
    assert (
        again.status_code == 409 and "approved article cannot be approved" in again.json()["detail"]
    )
    empty = api.post(
        f"{base}/{second.pk}/reject/", {"reason": "  "}, content_type="application/json"
    )
    assert empty.status_code == 422 and "reason" in empty.json()["detail"]
    rejected = api.post(
        f"{base}/{second.pk}/reject/", {"reason": "Too vague"}, content_type="application/json"
    )
    assert rejected.json()["status"] == "rejected" and rejected.json()["review_note"] == "Too vague"
    sent = api.post(
        f"{base}/{third.pk}/rewrite/", {"note": "Add prices"}, content_type="application/json"
    )
    assert sent.json()["status"] == "draft"
    assert Task.objects.get(pk=third.task_id).status == TaskStatus.QUEUED
    # Publishing needs an approved article and a WordPress.
    unapproved = api.post(f"{base}/{second.pk}/publish/")
    assert unapproved.status_code == 409
    draft = (
        Content.objects.filter(site=written).exclude(pk__in=[first.pk, second.pk, third.pk]).first()
    )
    Content.objects.filter(pk=draft.pk).update(status=ContentStatus.DRAFT)
    assert api.post(f"{base}/{draft.pk}/approve/").status_code == 409  # a draft is not approvable
    bulk = api.post(
        f"{base}/bulk/",
        {"action": "approve", "ids": [second.pk, draft.pk, 10**12]},
        content_type="application/json",
    ).json()
    assert bulk["done"] == [second.pk]
    assert {r["id"] for r in bulk["refused"]} == {draft.pk, 10**12}


def test_approving_or_rejecting_goes_on_to_the_next_article_of_the_tab(written, alice):
    """The review flow: after `a` or `r` the next article of the tab opens (the one that was
    after it, not the top of the tab); after the last one, the one before it."""
    reader = login(alice)
    tab = Content.objects.filter(site=written, status=ContentStatus.REVIEW)
    ids = list(tab.order_by("-updated_at", "-id").values_list("id", flat=True))
    assert len(ids) >= 5  # (the last is not one acted on before)

    def act(content_id: int, **data: str) -> str:
        url = f"/sites/{written.pk}/content/{content_id}/?tab=review"
        answer = reader.post(url, data)
        assert answer.status_code == 302
        return answer["Location"]

    assert act(ids[1], action="approve") == f"/sites/{written.pk}/content/{ids[2]}/?tab=review"
    assert act(ids[2], action="reject", reason="Thin.") == (
        f"/sites/{written.pk}/content/{ids[3]}/?tab=review"
    )
    assert act(ids[-1], action="approve") == (f"/sites/{written.pk}/content/{ids[-2]}/?tab=review")


def test_a_rewrite_writes_the_article_again_in_place_with_the_note(written, api):
    article = Content.objects.filter(site=written).order_by("id").first()
    before = article.html
    pictures = set(article.images.values_list("id", flat=True))
    base = f"/api/v1/sites/{written.pk}/content/{article.pk}"
    api.post(
        f"{base}/rewrite/", {"note": "Mention prices in euros"}, content_type="application/json"
    )
    run = run_to_end(written)
    assert run.outcome == "succeeded"
    article.refresh_from_db()
    assert article.status == ContentStatus.REVIEW and article.review_note == ""
    assert article.html != before and article.run_id == run.pk
    assert set(article.images.values_list("id", flat=True)) == pictures  # no new pictures
    assert len(re.findall("<figure", article.html)) == len(pictures)
    assert Content.objects.filter(task=article.task).count() == 1


def test_edits_are_sanitised_recounted_and_keep_the_pictures(written, api):
    article = Content.objects.filter(site=written).first()
    url = f"/api/v1/sites/{written.pk}/content/{article.pk}/"
    html = "<h2>One</h2><p onclick='x'>alpha beta <script>evil()</script>gamma</p><h2>Two</h2><p>delta</p>"
    body = api.patch(
        url, {"html": html, "meta_title": "New"}, content_type="application/json"
    ).json()
    assert "onclick" not in body["html"] and "evil" not in body["html"]
    assert body["word_count"] == 6 and body["meta_title"] == "New"
    assert len(re.findall("<figure", body["html"])) == article.images.count()
    huge = api.patch(
        url, {"html": "<p>" + "x" * (5 * 1024 * 1024) + "</p>"}, content_type="application/json"
    )
    assert huge.status_code == 413
    long_meta = api.patch(url, {"meta_title": "x" * 61}, content_type="application/json")
    assert long_meta.status_code == 422
    article.refresh_from_db()
    assert article.meta_title == "New"  # refused edits changed nothing
    Content.objects.filter(pk=article.pk).update(status=ContentStatus.PUBLISHED)
    unconfirmed = api.patch(url, {"title": "Changed"}, content_type="application/json")
    assert unconfirmed.status_code == 409 and "confirm" in unconfirmed.json()["detail"]
    confirmed = api.patch(
        url, {"title": "Changed", "confirm_published": True}, content_type="application/json"
    )
    assert confirmed.status_code == 200 and confirmed.json()["title"] == "Changed"


def test_roles_viewers_read_and_other_accounts_see_nothing(written, carol, erin, bob, token_for):
    article = Content.objects.filter(site=written).first()
    base = f"/api/v1/sites/{written.pk}/content/{article.pk}"
    viewer = Client(headers={"Authorization": f"Bearer {token_for(carol)}"})
    editor = Client(headers={"Authorization": f"Bearer {token_for(erin)}"})
    stranger = Client(headers={"Authorization": f"Bearer {token_for(bob)}"})
    assert viewer.get(f"{base}/").status_code == 200
    assert viewer.post(f"{base}/approve/").status_code == 403
    assert editor.post(f"{base}/approve/").status_code == 200
    for path in ("/", "/approve/", "/publish/"):
        method = stranger.get if path == "/" else stranger.post
        assert method(f"{base}{path}").status_code == 404
    assert stranger.get(f"/api/v1/sites/{written.pk}/content/export/").status_code == 404
    pages = [
        f"/sites/{written.pk}/content/",
        f"/sites/{written.pk}/content/{article.pk}/",
        f"/sites/{written.pk}/content/{article.pk}/edit/",
        f"/sites/{written.pk}/content/export/",
        f"/sites/{written.pk}/clusters/",
        f"/sites/{written.pk}/ideas/",
        f"/sites/{written.pk}/settings/publishing/",
    ]
    for page in pages:
        assert login(bob).get(page).status_code == 404, page
    reader = login(carol)
    assert reader.get(pages[1]).status_code == 200
    assert reader.get(pages[2]).status_code == 404  # a viewer has no editor
    other = Content.objects.filter(site=written, status=ContentStatus.REVIEW).first()
    assert (
        reader.post(f"/sites/{written.pk}/content/{other.pk}/", {"action": "approve"}).status_code
        == 302
    )
    other.refresh_from_db()
    assert other.status == ContentStatus.REVIEW


def unzip(response) -> zipfile.ZipFile:
    data = b"".join(response.streaming_content)
    return zipfile.ZipFile(io.BytesIO(data))


def test_export_of_approved_articles_as_markdown_and_html(written, api):
    chosen = list(Content.objects.filter(site=written).order_by("id")[:3])
    for article in chosen:
        api.post(f"/api/v1/sites/{written.pk}/content/{article.pk}/approve/")
    response = api.get(
        f"/api/v1/sites/{written.pk}/content/export/?status=approved&format=markdown"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = unzip(response)
    indexes = sorted(n for n in archive.namelist() if n.endswith("index.md"))
    assert len(indexes) == 3
    text = archive.read(indexes[0]).decode()
    front = text.split("---\n")[1]
    fields = {
        line.split(": ", 1)[0]: json.loads(line.split(": ", 1)[1]) for line in front.splitlines()
    }
    assert fields["title"] == chosen[0].title and fields["keywords"] and fields["cluster"]
    assert fields["meta_description"] == chosen[0].meta_description
    assert fields["offline_draft"] is True  # placeholder text says so wherever it goes
    folder = indexes[0].rsplit("/", 1)[0]
    pictures = [n for n in archive.namelist() if n.startswith(folder + "/images/")]
    assert len(pictures) == chosen[0].images.count()
    for picture in pictures:  # the Markdown points at the pictures beside it
        assert f"({picture.removeprefix(folder + '/')}" in text
        assert archive.read(picture).startswith(b"\x89PNG")
    chosen[0].title = 'Über Tomaten – "Ratgeber" & <mehr>'
    chosen[0].save(update_fields=["title"])
    html = unzip(api.get(f"/api/v1/sites/{written.pk}/content/export/?format=html"))
    assert sum(n.endswith("index.html") for n in html.namelist()) == 3
    page = "".join(html.read(n).decode() for n in html.namelist() if n.endswith("index.html"))
    # the title as people read it, escaped for HTML only (not as JSON)
    assert "<h1>Über Tomaten – &quot;Ratgeber&quot; &amp; &lt;mehr&gt;</h1>" in page
    assert page.count('<meta name="generator" content="Cascade offline draft">') == 3
    bad = api.get(f"/api/v1/sites/{written.pk}/content/export/?status=nonsense")
    assert bad.status_code == 422 and "status" in bad.json()["detail"]


def test_the_markdown_export_keeps_text_that_looks_like_markup_as_text(written, api):
    article = Content.objects.filter(site=written).first()
    review.edit(
        article,
        {
            "html": "<h2>Safe</h2><p>&lt;script&gt;alert(1)&lt;/script&gt; and "
            "[click](javascript:alert(2)) and <a href='https://example.org/a'>a link</a></p>"
        },
    )
    review.approve(article)
    archive = unzip(api.get(f"/api/v1/sites/{written.pk}/content/export/?status=approved"))
    text = archive.read(next(n for n in archive.namelist() if n.endswith("index.md"))).decode()
    body = text.split("---\n", 2)[2]
    assert not re.search(r"(?<!\\)<script", body), "no live markup"
    assert not re.search(r"(?<!\\)\]\(javascript:", body), "no live javascript: link"
    assert "\\<script\\>" in body, "shown as the text it is"
    assert "[a link](https://example.org/a)" in body


def test_an_article_shows_only_its_own_pictures(written, api):
    """Pictures typed into an article (a tracking pixel, one of Cascade's own addresses, which
    every reviewer's browser would fetch) are dropped; the article's own stay in place."""
    article = Content.objects.filter(site=written).first()
    own = article.images.exclude(file="").count()
    assert own and article.html.count("<img") == own
    edited = article.html.replace(
        "</h2>",
        '</h2><p>See <img src="https://tracker.example/pixel.gif" width="1" height="1">'
        f'<img src="/sites/{written.pk}/content/export/?format=html"></p>',
        1,
    )
    answer = api.patch(
        f"/api/v1/sites/{written.pk}/content/{article.pk}/",
        {"html": edited},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    article.refresh_from_db()
    assert "tracker.example" not in article.html and "/content/export/" not in article.html
    assert article.html.count("<img") == own
    assert all(f'data-image="{i.pk}"' in article.html for i in article.images.exclude(file=""))


def test_the_article_list_and_page_cost_a_fixed_few_queries(site, alice):
    run_to_end(site)
    client = login(alice)
    article = Content.objects.filter(site=site).first()

    def cost(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = cost(f"/sites/{site.pk}/content/"), cost(f"/sites/{site.pk}/content/{article.pk}/")
    listed = client.get(f"/sites/{site.pk}/content/?status=review").content.decode()
    shown = listed.count('data-testid="article-link"')
    assert shown > 0 and listed.count('data-testid="offline-draft"') == shown
    import_rows(site, keywords_of(DEMO, limit=160)[40:])
    run_to_end(site)
    assert Content.objects.filter(site=site).count() > 4 * 10
    many = cost(f"/sites/{site.pk}/content/"), cost(f"/sites/{site.pk}/content/{article.pk}/")
    assert many == few
    # Every query counts, the session and the user included.
    print("QUERIES", many)
    assert many[0] <= 6 and many[1] <= 8, many
