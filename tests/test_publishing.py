"""Publishing to a real WordPress (contract §9): posts with their pictures, category and excerpt;
updates in place; WordPress's own words when it refuses; retries while it is down; and no
duplicate after a worker dies mid-publish."""

from __future__ import annotations

import html
import time

import pytest

from cascade.accounts.models import Site
from cascade.notify import sending
from cascade.writer import publishing, review
from cascade.writer.models import Content, ContentStatus, Image
from cascade.writer.wordpress import WordPressError, marker
from tests.conftest import KillableWorker, run_to_end, wait_for
from tests.receivers import WebhookReceiver
from tests.wordpress import HoldingProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.wordpress]


@pytest.fixture
def approved(site):
    """Alice's site after a run, with its first three articles approved."""
    run_to_end(site)
    articles = list(Content.objects.filter(site=site).order_by("id")[:3])
    for article in articles:
        review.approve(article)
    return articles


def connect(api, site, url: str, user: str, password: str):
    body = {
        "url": url,
        "username": user,
        "application_password": password,
        "post_status": "publish",
    }
    return api.put(f"/api/v1/sites/{site.pk}/publishing/", body, content_type="application/json")


def publish_all(timeout: float = 60.0) -> None:
    """Work as a worker does until no article waits for WordPress."""
    deadline = time.monotonic() + timeout
    while Content.objects.filter(status=ContentStatus.PUBLISHING).exists():
        assert time.monotonic() < deadline, "articles still waiting for WordPress"
        if not publishing.work_once("test"):
            time.sleep(0.05)


def mark_of(article: Content) -> str:
    return marker(article.site_id, article.pk, article.created_at)


def test_an_article_is_published_with_its_pictures_and_updated_in_place(
    site, approved, api, wordpress, settings
):
    settings.CASCADE_WEBHOOKS_ALLOW_PRIVATE = True
    receiver = WebhookReceiver().up()
    hook = api.post(
        f"/api/v1/sites/{site.pk}/webhooks/",
        {"url": receiver.url, "events": ["content.published"]},
        content_type="application/json",
    ).json()
    answer = connect(api, site, wordpress.url, wordpress.user, wordpress.password)
    assert answer.status_code == 200, answer.content
    assert "password" not in str(
        {
            k: v
            for k, v in answer.json().items()
            if k != "application_password_set" and k != "application_password_hint"
        }
    )
    assert answer.json()["application_password_hint"].endswith(wordpress.password[-4:])
    checked = api.post(f"/api/v1/sites/{site.pk}/publishing/test/").json()
    assert checked["ok"] and "may publish posts" in checked["message"], checked
    article = approved[0]
    queued = api.post(f"/api/v1/sites/{site.pk}/content/{article.pk}/publish/")
    assert queued.json()["status"] == "publishing"
    publish_all()
    article.refresh_from_db()
    assert article.status == ContentStatus.PUBLISHED, article.publish_error
    assert article.published_url.startswith(wordpress.url.split(":")[0])
    post = wordpress.get(f"posts/{article.remote_post_id}", context="edit")
    images = list(Image.objects.filter(content=article).order_by("position"))
    featured = images[0]
    assert featured.kind == "featured" and featured.remote_media_id
    assert post["featured_media"] == featured.remote_media_id
    assert post["excerpt"]["raw"] == article.meta_description
    assert html.unescape(post["title"]["raw"]) == article.title
    cluster = article.task.idea.cluster
    names = [html.unescape(wordpress.get(f"categories/{c}")["name"]) for c in post["categories"]]
    assert names == [cluster.name]
    for image in images:  # every picture uploaded once, and the post shows WordPress's copies
        assert len(wordpress.media_named(f"cascade-{image.token.lower()}")) == 1
        assert image.remote_url
        if image.kind == "in_article":
            assert image.remote_url in post["content"]["raw"]
    assert "/media/sites/" not in post["content"]["raw"]
    # The featured picture is the post's featured_media only: themes show it above the post.
    assert featured.remote_url not in post["content"]["raw"]
    assert f'data-image="{featured.pk}"' not in post["content"]["raw"]
    for image in images:  # every picture is attached to its post
        assert wordpress.get(f"media/{image.remote_media_id}")["post"] == post["id"]
    while sending.send_once():  # the content.published webhook
        pass
    assert receiver.events() == ["content.published"]
    assert receiver.received[0].signed_with(hook["secret"])
    told = receiver.received[0].json["content"]
    assert told["id"] == article.pk and told["url"] == article.published_url
    assert told["remote_post_id"] == article.remote_post_id
    receiver.down()

    # Publishing again updates the same post: still one post, no second picture.
    # Title and excerpt are plain text: markup in them arrives escaped, never as markup.
    title = "A <b>better</b> title & <script>alert(1)</script>"
    review.edit(article, {"title": title}, confirm_published=True)
    api.post(f"/api/v1/sites/{site.pk}/content/{article.pk}/publish/")
    publish_all()
    article.refresh_from_db()
    assert article.status == ContentStatus.PUBLISHED and not article.changed_since_published
    assert [p["id"] for p in wordpress.posts_marked(mark_of(article))] == [article.remote_post_id]
    again = wordpress.get(f"posts/{article.remote_post_id}", context="edit")
    assert html.unescape(again["title"]["raw"]) == article.title
    assert "<b>" not in again["title"]["rendered"] and "<script" not in again["title"]["rendered"]
    for image in images:
        assert len(wordpress.media_named(f"cascade-{image.token.lower()}")) == 1


def test_a_wrong_application_password_ends_in_publish_failed_with_wordpress_words(
    site, approved, api, wordpress, settings
):
    settings.CASCADE_PUBLISH_ATTEMPTS = 2
    connect(api, site, wordpress.url, wordpress.user, "abcd efgh ijkl mnop qrst uvwx")
    checked = api.post(f"/api/v1/sites/{site.pk}/publishing/test/").json()
    assert not checked["ok"] and checked["message"].startswith("WordPress answered 401: "), checked
    assert "not JSON" not in checked["message"] and "web page" not in checked["message"]
    article = approved[0]
    api.post(f"/api/v1/sites/{site.pk}/content/{article.pk}/publish/")
    publish_all()
    article.refresh_from_db()
    assert article.status == ContentStatus.PUBLISH_FAILED
    assert article.publish_attempts == 2
    assert "WordPress answered 401" in article.publish_error
    assert (
        "application password" in article.publish_error.lower()
        or "not allowed" in article.publish_error
    )
    assert article.remote_post_id is None


def test_a_site_with_plain_permalinks_works_through_rest_route(
    site, approved, api, wordpress, plain_wordpress
):
    assert wordpress.http.get(f"{plain_wordpress}/wp-json/").status_code == 404
    connect(api, site, plain_wordpress, wordpress.user, "abcd efgh ijkl mnop qrst uvwx")
    refused = api.post(f"/api/v1/sites/{site.pk}/publishing/test/").json()
    assert not refused["ok"] and refused["message"].startswith("WordPress answered 401: "), refused
    connect(api, site, plain_wordpress, wordpress.user, wordpress.password)
    checked = api.post(f"/api/v1/sites/{site.pk}/publishing/test/").json()
    assert checked["ok"], checked
    article = approved[1]
    api.post(f"/api/v1/sites/{site.pk}/content/{article.pk}/publish/")
    publish_all()
    article.refresh_from_db()
    assert article.status == ContentStatus.PUBLISHED, article.publish_error
    assert "?p=" in article.published_url, "a plain-permalink site's address"
    images = list(Image.objects.filter(content=article))
    assert all(i.remote_media_id for i in images)
    assert [p["id"] for p in wordpress.posts_marked(mark_of(article))] == [article.remote_post_id]


def test_a_bulk_publish_waits_out_wordpress_being_down(
    site, approved, api, wordpress, own_wordpress, settings
):
    settings.CASCADE_PUBLISH_ATTEMPTS = 12
    settings.CASCADE_PUBLISH_BACKOFF = 0.2
    url = f"http://127.0.0.1:{own_wordpress}"
    assert connect(api, site, url, wordpress.user, wordpress.password).status_code == 200
    wordpress.server(own_wordpress, "stop")
    ids = [a.pk for a in approved]
    done = api.post(
        f"/api/v1/sites/{site.pk}/content/bulk/",
        {"action": "publish", "ids": ids},
        content_type="application/json",
    ).json()
    assert done == {"done": ids, "refused": []}
    for _ in range(20):
        publishing.work_once("test")
        time.sleep(0.05)
    waiting = Content.objects.filter(pk__in=ids)
    assert all(a.status == ContentStatus.PUBLISHING for a in waiting)
    assert all("cannot be reached" in a.publish_error for a in waiting if a.publish_attempts)
    wordpress.server(own_wordpress, "start")
    publish_all(timeout=120)
    for article in Content.objects.filter(pk__in=ids):
        assert article.status == ContentStatus.PUBLISHED, article.publish_error
        assert len(wordpress.posts_marked(mark_of(article))) == 1


def test_a_worker_killed_mid_publish_leaves_no_duplicate(site, approved, api, wordpress, tmp_path):
    proxy = HoldingProxy(wordpress.url)
    worker = None
    try:
        assert connect(api, site, proxy.url, wordpress.user, wordpress.password).status_code == 200
        worker = KillableWorker(
            tmp_path, CASCADE_PUBLISH_ALLOW_PRIVATE="1", CASCADE_CLAIM_TIMEOUT="2"
        )
        article = approved[0]
        api.post(f"/api/v1/sites/{site.pk}/content/{article.pk}/publish/")
        assert proxy.created.wait(60), "the worker never created the post"
        worker.kill()  # WordPress made the post; the worker never heard its id
        article.refresh_from_db()
        assert article.remote_post_id is None and article.status == ContentStatus.PUBLISHING
        assert len(wordpress.posts_marked(mark_of(article))) == 1
        proxy.released.set()
        wait_for(lambda: publishing.work_once("test") or None, 30, 0.2, "the claim to expire")
        publish_all()
        article.refresh_from_db()
        assert article.status == ContentStatus.PUBLISHED, article.publish_error
        posts = wordpress.posts_marked(mark_of(article))
        assert [p["id"] for p in posts] == [article.remote_post_id]
        for image in article.images.all():
            assert len(wordpress.media_named(f"cascade-{image.token.lower()}")) == 1
    finally:
        if worker:
            worker.stop()
        proxy.close()


def test_bad_publishing_settings_are_refused_and_change_nothing(site, api, settings):
    settings.CASCADE_PUBLISH_ALLOW_PRIVATE = False
    url = f"/api/v1/sites/{site.pk}/publishing/"
    cases = [
        ({"url": "ftp://blog.example", "username": "a", "application_password": "x"}, "http"),
        ({"url": "javascript:alert(1)", "username": "a", "application_password": "x"}, "http"),
        (
            {"url": "http://127.0.0.1:8089", "username": "a", "application_password": "x"},
            "CASCADE_PUBLISH_ALLOW_PRIVATE",
        ),
        ({"url": "http://10.1.2.3", "username": "a", "application_password": "x"}, "private"),
        ({"url": "https://blog.example", "username": "", "application_password": "x"}, "username"),
        ({"url": "https://blog.example", "username": "a"}, "application_password"),
    ]
    for body, expected in cases:
        answer = api.put(url, body, content_type="application/json")
        assert answer.status_code == 422 and expected in answer.json()["detail"], (
            body,
            answer.content,
        )
    assert api.get(url).json() is None
    article_less = api.post(f"/api/v1/sites/{site.pk}/publishing/test/").json()
    assert not article_less["ok"] and "No WordPress" in article_less["message"]


def approved_of_one_cluster(site, count: int) -> list[Content]:
    """After a run, `count` approved articles of one cluster (so they link to each other)."""
    run_to_end(site)
    by_cluster: dict[int, list[Content]] = {}
    for article in Content.objects.filter(site=site).select_related("task__idea"):
        by_cluster.setdefault(article.task.idea.cluster_id, []).append(article)
    chosen = next(group for group in by_cluster.values() if len(group) >= count)[:count]
    for article in chosen:
        review.approve(article)
    return chosen


def test_posts_link_to_related_published_posts_and_gain_links_when_those_are_published(
    site, api, wordpress
):
    first, second = approved_of_one_cluster(site, 2)
    connect(api, site, wordpress.url, wordpress.user, wordpress.password)

    def post_of(article: Content) -> str:
        article.refresh_from_db()
        assert article.status == ContentStatus.PUBLISHED, article.publish_error
        return wordpress.get(f"posts/{article.remote_post_id}", context="edit")["content"]["raw"]

    api.post(f"/api/v1/sites/{site.pk}/content/{first.pk}/publish/")
    publish_all()
    assert "See also" not in post_of(first), "no link to an article that is not published"
    api.post(f"/api/v1/sites/{site.pk}/content/{second.pk}/publish/")
    publish_all()  # publishing the second updates the first, which now links to it
    second_post, first_post = post_of(second), post_of(first)
    assert f'<a href="{first.published_url}">' in second_post
    assert f'<a href="{second.published_url}">' in first_post
    anchor = html.unescape(first_post.split(f'<a href="{second.published_url}">')[1].split("<")[0])
    idea = second.task.idea
    assert anchor in [*idea.target_keywords, idea.cluster.name, second.title]
    own = first.task.idea
    assert anchor.casefold() not in {k.casefold() for k in [*own.target_keywords, own.cluster.name]}
    for post in (first_post, second_post):  # at most one link a section
        assert all(part.count("See also") <= 1 for part in post.split("<h2>"))
    assert [p["id"] for p in wordpress.posts_marked(mark_of(first))] == [first.remote_post_id]


def test_a_new_address_or_user_name_never_gets_the_stored_password(site, api, settings):
    """An editor who changes the address (or the user name) without giving a password cannot
    make Cascade send the owner's password there: the stored one is cleared."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    settings.CASCADE_PUBLISH_ALLOW_PRIVATE = True
    heard: list[str] = []

    class Listener(BaseHTTPRequestHandler):
        def do_GET(self):
            heard.append(self.headers.get("Authorization") or "")
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"code":"x","message":"no"}')

        def log_message(self, *args):
            pass

    catcher = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=catcher.serve_forever, daemon=True).start()
    url = f"/api/v1/sites/{site.pk}/publishing/"
    secret = "owner secret pass word 1234"
    connect(api, site, "http://127.0.0.1:9", "owner", secret)
    assert api.get(url).json()["application_password_set"] is True
    try:
        moved = api.put(
            url,
            {"url": f"http://127.0.0.1:{catcher.server_port}", "username": "owner"},
            content_type="application/json",
        )
        assert moved.status_code == 200 and moved.json()["application_password_set"] is False
        checked = api.post(f"/api/v1/sites/{site.pk}/publishing/test/").json()
        assert not checked["ok"] and "enter it" in checked["message"]
        leaked = base64.b64encode(f"owner:{secret}".encode()).decode()
        assert not [h for h in heard if leaked in h], "the password never went to the new host"
        with pytest.raises(WordPressError, match="No WordPress application password is stored"):
            publishing.client_for(Site.objects.get(pk=site.pk))  # publishing says why, too
        # The same for a new user name at the same address; a new password in the save is kept.
        connect(api, site, "http://127.0.0.1:9", "owner", secret)
        renamed = api.put(
            url, {"url": "http://127.0.0.1:9", "username": "other"}, content_type="application/json"
        )
        assert renamed.json()["application_password_set"] is False
        both = connect(api, site, "http://127.0.0.1:10", "third", "a new pass word 5678")
        assert both.json()["application_password_set"] is True
        kept = api.put(
            url,
            {"url": "http://127.0.0.1:10", "username": "third"},
            content_type="application/json",
        )
        assert kept.json()["application_password_set"] is True, "same address and user: kept"
    finally:
        catcher.shutdown()


def test_a_refresh_for_links_keeps_the_post_status_and_waits_for_unpublished_edits(
    site, api, wordpress
):
    first, second, third = approved_of_one_cluster(site, 3)
    connect(api, site, wordpress.url, wordpress.user, wordpress.password)
    api.put(
        f"/api/v1/sites/{site.pk}/publishing/",
        {"url": wordpress.url, "username": wordpress.user, "post_status": "draft"},
        content_type="application/json",
    )
    for article in (first, third):
        api.post(f"/api/v1/sites/{site.pk}/content/{article.pk}/publish/")
    publish_all()
    first.refresh_from_db()
    third.refresh_from_db()
    # Someone makes the first post live in WordPress; the third is edited in Cascade.
    live = wordpress.http.post(
        f"{wordpress.url}/wp-json/wp/v2/posts/{first.remote_post_id}", json={"status": "publish"}
    )
    assert live.status_code == 200, live.text
    review.edit(third, {"title": "Edited after publishing"}, confirm_published=True)
    api.post(f"/api/v1/sites/{site.pk}/content/{second.pk}/publish/")
    publish_all()
    post = wordpress.get(f"posts/{first.remote_post_id}", context="edit")
    second.refresh_from_db()
    assert f'<a href="{second.published_url}">' in post["content"]["raw"], "refreshed for links"
    assert post["status"] == "publish", "a refresh never takes a live post back to draft"
    third.refresh_from_db()
    assert third.status == ContentStatus.PUBLISHED and third.changed_since_published
    kept = wordpress.get(f"posts/{third.remote_post_id}", context="edit")
    assert kept["title"]["raw"] != "Edited after publishing", "edits wait for a person"
