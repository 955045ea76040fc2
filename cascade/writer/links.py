"""Internal links: an article links to related articles of its site, those of its own cluster
first, then those whose keywords share the most words with its own; at most one link a section
and LIMIT in all, each as a "See also" line at the end of its section, with anchor text from the
linked article's keywords. Links are made when an article is published to WordPress:
only to articles that have an address there, so a link to one not published yet is left out,
and once it is published, the posts that should link to it are published again
(`stale_links`, asked when the site's publishing queue is empty)."""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Case, When

from cascade.ai.clustering import content_words
from cascade.writer.html import H2_RE
from cascade.writer.models import Content, ContentStatus

LIMIT = 3  # links an article carries at most
# Articles with a post in WordPress (being updated, or whose update failed, it is still there).
LIVE = (ContentStatus.PUBLISHED, ContentStatus.PUBLISHING, ContentStatus.PUBLISH_FAILED)
CANDIDATES = 500  # articles of other clusters weighed for relatedness
WRITTEN = (
    ContentStatus.REVIEW,
    ContentStatus.APPROVED,
    ContentStatus.PUBLISHING,
    ContentStatus.PUBLISHED,
    ContentStatus.PUBLISH_FAILED,
)


@dataclass(frozen=True)
class Link:
    target_id: int
    anchor: str
    title: str = ""


def _facts(content: Content) -> tuple[int | None, list[str]]:
    idea = content.task.idea if content.task_id else None
    cluster = idea.cluster_id if idea else None
    keywords = list(idea.target_keywords) if idea and idea.target_keywords else []
    if idea and idea.cluster:
        keywords.append(idea.cluster.name)
    return cluster, keywords or [content.title]


def _known(content: Content, cache: dict[int, tuple] | None) -> tuple:
    """(cluster id, keywords, their content words) of an article, worked out once."""
    if cache is not None and content.pk in cache:
        return cache[content.pk]
    cluster, keywords = _facts(content)
    found = (cluster, keywords, frozenset(content_words(" ".join(keywords))))
    if cache is not None:
        cache[content.pk] = found
    return found


def related(
    content: Content, among: list[Content] | None = None, cache: dict[int, tuple] | None = None
) -> list[Link]:
    """The articles this one links to, best first: those of its own cluster, then the most
    recent others, CANDIDATES in all, the others ranked by the words their keywords share.
    Among the site's written articles (one query), or among `among` (the same choice)."""
    cluster, own, words = _known(content, cache)
    if among is None:
        among = list(
            Content.objects.filter(site_id=content.site_id, status__in=WRITTEN)
            .exclude(pk=content.pk)
            .select_related("task__idea__cluster")
            .annotate(same=Case(When(task__idea__cluster_id=cluster, then=1), default=0))
            .order_by("-same", "-id")[:CANDIDATES]
        )
    others = [o for o in among if o.pk != content.pk]
    same = [o for o in others if cluster is not None and _known(o, cache)[0] == cluster]
    rest = [o for o in others if cluster is None or _known(o, cache)[0] != cluster]
    pool_same = sorted(same, key=lambda o: -o.pk)[:CANDIDATES]
    pool_rest = sorted(rest, key=lambda o: -o.pk)[: max(0, CANDIDATES - len(pool_same))]
    scored = []
    for other in pool_rest:
        shared = len(words & _known(other, cache)[2])
        if shared:
            scored.append((-shared, other.pk, other))
    chosen_ = sorted(pool_same, key=lambda o: o.pk) + [
        o for _, _, o in sorted(scored, key=lambda t: t[:2])
    ]
    # Each link's words are its own: not this article's keywords (a page linking its own main
    # keyword elsewhere competes with itself), not another link's; else the linked title.
    used = {k.casefold() for k in own}
    found = []
    for other in chosen_:
        anchor = next((k for k in _known(other, cache)[1] if k.casefold() not in used), other.title)
        used.add(anchor.casefold())
        found.append(Link(other.pk, anchor, other.title))
    return found


def add_links(
    html: str, links: list[Link], url_of: Callable[[int], str | None]
) -> tuple[str, list[int]]:
    """The article with a "See also" line at the end of each of its first sections for the
    links that have an address (`url_of`), one a section, at most LIMIT; and the linked ids."""
    starts = [m.start() for m in H2_RE.finditer(html)]
    usable = chosen(html, links, url_of)
    if not usable:
        return html, []
    ends = starts[1:] + [len(html)]
    placed: list[tuple[int, str]] = []
    linked: list[int] = []
    for (link, url), end in zip(usable, ends, strict=False):
        anchor = html_lib.escape(link.anchor, quote=False)
        href = html_lib.escape(url, quote=True)
        placed.append((end, f'<p>See also: <a href="{href}">{anchor}</a></p>\n'))
        linked.append(link.target_id)
    for at, line in reversed(placed):
        body = html[:at].rstrip("\n")
        html = body + "\n" + line + html[at:]
    return html, linked


def chosen(
    html: str, links: list[Link], url_of: Callable[[int], str | None]
) -> list[tuple[Link, str]]:
    """The links an article carries: those with an address, one a section, at most LIMIT."""
    room = min(LIMIT, len(H2_RE.findall(html)))
    return [(link, url) for link in links if (url := url_of(link.target_id))][:room]


def published_address(site_id: int) -> Callable[[int], str | None]:
    """Where each article of a site that has a post lives (one query), for links in
    WordPress; also while its post is being updated, or an update failed."""
    addresses = dict(
        Content.objects.filter(site_id=site_id, status__in=LIVE)
        .exclude(published_url="")
        .values_list("pk", "published_url")
    )
    return addresses.get


def stale_links(site_id: int) -> list[int]:
    """Published articles whose post would now link to other articles than it does (a related
    article was published since): publishing them again brings their links up to date. Asked
    once the site's publishing queue is empty, so a bulk publish updates each post once. Posts
    published before their links were recorded (`linked_ids` null) are left as they are. One
    query for the site's articles; relatedness is worked out in memory."""
    rows = list(
        Content.objects.filter(site_id=site_id, status__in=WRITTEN)
        .select_related("task__idea__cluster")
        .order_by("-id")
    )
    address = {c.pk: c.published_url for c in rows if c.status in LIVE and c.published_url}
    cache: dict[int, tuple] = {}
    stale = []
    for article in rows:
        if article.status != ContentStatus.PUBLISHED or article.linked_ids is None:
            continue
        links = related(article, rows, cache)
        wanted = [link.target_id for link, _ in chosen(article.html, links, address.get)]
        if wanted != list(article.linked_ids):
            stale.append(article.pk)
    return stale
