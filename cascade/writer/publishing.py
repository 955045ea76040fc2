"""Publishing articles to their site's WordPress (contract §9).

Articles queued for publishing (status `publishing`) are claimed one at a time by a worker (the
embedded worker, or any Celery worker's housekeeping), with a claim that expires like a run
item's. Publishing is idempotent: pictures are uploaded under their own names and looked up
first; the post carries a marker and is looked up by it when its id was not stored yet; an
article already published is updated in place. So a worker killed mid-publish, a retry or a
second publish never makes a second post or picture."""

from __future__ import annotations

import html
import logging
import random
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cascade.accounts import secrets
from cascade.notify import webhooks
from cascade.notify.models import Event
from cascade.writer import links
from cascade.writer.html import without_featured
from cascade.writer.models import Content, ContentStatus, Image, ImageStatus, RemoteCategory
from cascade.writer.wordpress import Client, WordPressError, marker

log = logging.getLogger("cascade.publishing")

FIGURE_SRC_RE = re.compile(r'(<figure data-image="(\d+)"><img src=")([^"]*)(")')


def client_for(site: Any) -> Client:
    wp = site.wordpress
    if not wp.password_encrypted:  # (cleared when the address or the user name changed)
        raise WordPressError(
            "No WordPress application password is stored for this address and user: enter it "
            "in the site's settings.",
            retry=False,
        )
    password = secrets.readable(wp.password_encrypted)
    if not password:
        raise WordPressError(
            "The WordPress application password cannot be read: enter it again in the site's "
            "settings.",
            retry=False,
        )
    return Client(wp.url, wp.username, password)


def claim(worker: str = "") -> Content | None:
    """Claim the next article due for publishing (one worker wins each)."""
    now = timezone.now()
    due = (
        Content.objects.filter(status=ContentStatus.PUBLISHING)
        .filter(Q(publish_not_before__isnull=True) | Q(publish_not_before__lte=now))
        .filter(Q(publish_claim="") | Q(publish_claim_expires_at__lt=now))
        .order_by("publish_not_before", "id")
        .values_list("pk", flat=True)[:5]
    )
    for pk in list(due):
        token = uuid.uuid4().hex
        won = (
            Content.objects.filter(pk=pk, status=ContentStatus.PUBLISHING)
            .filter(Q(publish_claim="") | Q(publish_claim_expires_at__lt=now))
            .update(
                publish_claim=token,
                publish_claim_expires_at=now + timedelta(seconds=settings.CASCADE_CLAIM_TIMEOUT),
            )
        )
        if won:
            return Content.objects.select_related("site__wordpress", "task__idea__cluster").get(
                pk=pk
            )
    return None


def work_once(worker: str = "") -> bool:
    """Publish one due article; False when none was due."""
    content = claim(worker)
    if content is None:
        return False
    try:
        publish_now(content)
    except WordPressError as exc:
        _failed(content, exc)
    except Exception as exc:  # an article's failure never stops the worker
        log.exception("publishing article %s failed", content.pk)
        # Words for people on the article; its class and traceback are in the log above.
        _failed(content, WordPressError(f"Unexpected error while publishing: {exc}", retry=True))
    return True


def _mine(content: Content) -> Any:
    return Content.objects.filter(pk=content.pk, publish_claim=content.publish_claim)


def _failed(content: Content, exc: WordPressError) -> None:
    attempts = content.publish_attempts + 1
    if exc.retry and attempts < settings.CASCADE_PUBLISH_ATTEMPTS:
        delay = settings.CASCADE_PUBLISH_BACKOFF * 2 ** (attempts - 1) * (0.5 + random.random())
        _mine(content).update(
            publish_attempts=attempts,
            publish_error=exc.message[:2000],
            publish_not_before=timezone.now() + timedelta(seconds=delay),
            publish_claim="",
        )
        log.info(
            "publishing article %s: %s; trying again in %.0f s", content.pk, exc.message, delay
        )
        return
    _mine(content).update(
        status=ContentStatus.PUBLISH_FAILED,
        publish_attempts=attempts,
        publish_error=exc.message[:2000],
        publish_claim="",
    )
    update_links_when_idle(content.site_id)  # the last of a bulk may have failed


def publish_now(content: Content) -> str:
    """Send the article and its pictures; store the post's id and address. Returns the URL."""
    wp = content.site.wordpress
    client = client_for(content.site)
    try:
        sources = _upload_images(client, content)
        mark = marker(content.site_id, content.pk, content.created_at)
        # The featured picture is the post's featured_media, which themes show above the post:
        # in the body too it would be shown twice.
        body = without_featured(content.html, content.images.all())
        body = FIGURE_SRC_RE.sub(lambda m: m[1] + sources.get(int(m[2]), m[3]) + m[4], body)
        # Links only to articles published already; publishing those later adds the link.
        body, linked = links.add_links(
            body, links.related(content), links.published_address(content.site_id)
        )
        fields: dict[str, Any] = {
            # WordPress takes title and excerpt as markup: plain text goes escaped.
            "title": html.escape(content.title, quote=False),
            "content": f"<!-- {mark} -->\n{body}",
            "excerpt": html.escape(content.meta_description, quote=False),
        }
        post_id = content.remote_post_id or (client.post_with_marker(mark) or {}).get("id")
        if not post_id:
            # A new post gets the site's choice; an existing one keeps the status it has in
            # WordPress (a draft someone published there stays published).
            fields["status"] = wp.post_status
        featured = content.images.filter(kind="featured", remote_media_id__isnull=False).first()
        if featured:
            fields["featured_media"] = featured.remote_media_id
        cluster = content.task.idea.cluster if content.task.idea_id else None
        if wp.category_from_cluster and cluster is not None:
            fields["categories"] = [_category(client, content.site_id, cluster.name)]
        try:
            post = client.save_post(post_id, fields)
        except WordPressError as exc:
            if exc.status != 404 or not post_id:
                raise
            fields["status"] = wp.post_status
            post = client.save_post(None, fields)  # the post was deleted in WordPress
        _mine(content).update(remote_post_id=post["id"])  # before anything else can fail
        unattached = content.images.exclude(remote_media_id=None).exclude(remote_post_id=post["id"])
        for image_id, media_id in unattached.values_list("pk", "remote_media_id"):
            client.attach(int(media_id or 0), post["id"])
            Image.objects.filter(pk=image_id).update(remote_post_id=post["id"])
        url = post.get("link", "")
        now = timezone.now()
        with transaction.atomic():
            done = _mine(content).update(
                status=ContentStatus.PUBLISHED,
                published_url=url[:500],
                published_at=now,
                publish_error="",
                publish_claim="",
                changed_since_published=False,
                linked_ids=linked,
            )
            if done:
                transaction.on_commit(lambda: update_links_when_idle(content.site_id))
                webhooks.emit(
                    content.site_id, Event.CONTENT_PUBLISHED, _published(content, url, post["id"])
                )
        return url
    finally:
        client.close()


def update_links_when_idle(site_id: int) -> None:
    """Once nothing of the site waits for WordPress, posts whose links are out of date (an
    article they should link to was published since) are published again, outside any bulk.
    Posts edited in Cascade since they were published wait for a person to publish them."""
    if Content.objects.filter(site_id=site_id, status=ContentStatus.PUBLISHING).exists():
        return
    Content.objects.filter(
        pk__in=links.stale_links(site_id),
        status=ContentStatus.PUBLISHED,
        changed_since_published=False,
    ).update(
        status=ContentStatus.PUBLISHING,
        publish_attempts=0,
        publish_error="",
        publish_not_before=None,
        publish_batch=None,
    )


def _published(content: Content, url: str, post_id: int) -> dict[str, Any]:
    """The content.published webhook's body: which article, where it now lives."""
    return {
        "content": {
            "id": content.pk,
            "title": content.title,
            "url": url,
            "remote_post_id": post_id,
            "word_count": content.word_count,
            "status": ContentStatus.PUBLISHED.value,
        }
    }


def _upload_images(client: Client, content: Content) -> dict[int, str]:
    """Each generated picture in WordPress once; returns {image id: its WordPress address}."""
    sources = {}
    for image in content.images.filter(status=ImageStatus.GENERATED).order_by("position"):
        if image.remote_media_id is None:
            slug = f"cascade-{image.token.lower()}"
            media = client.media_by_slug(slug)
            if media is None:
                data = (Path(settings.MEDIA_ROOT) / image.file).read_bytes()
                media = client.upload(slug, data, image.alt)
            Image.objects.filter(pk=image.pk).update(
                remote_media_id=media["id"], remote_url=media.get("source_url", "")[:500]
            )
            image.remote_url = media.get("source_url", "")
        sources[image.pk] = image.remote_url
    return sources


def _category(client: Client, site_id: int, name: str) -> int:
    known = RemoteCategory.objects.filter(site_id=site_id, name=name).first()
    if known is not None:
        return known.remote_id
    remote = client.category(name)
    RemoteCategory.objects.update_or_create(
        site_id=site_id, name=name, defaults={"remote_id": remote}
    )
    return remote


def batch_progress(site: Any, batch: uuid.UUID | None) -> dict[str, int] | None:
    """How far the site's latest bulk publish has got (one query)."""
    if batch is None:
        return None
    counts: dict[str, int] = {}
    rows = Content.objects.filter(site=site, publish_batch=batch).values_list("status", flat=True)
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    total = sum(counts.values())
    if not total:
        return None
    waiting = counts.get(ContentStatus.PUBLISHING, 0)
    return {
        "total": total,
        "published": counts.get(ContentStatus.PUBLISHED, 0),
        "failed": counts.get(ContentStatus.PUBLISH_FAILED, 0),
        "waiting": waiting,
        "done": total - waiting,
        # Whole percents, rounded down: 100 only when nothing waits.
        "percent": (total - waiting) * 100 // total,
    }
