"""Internal links: an article links to related articles of its site, those of its own cluster
first, then those whose keywords share the most words with its own; at most one link a section
and LIMIT in all, each as a "See also" line at the end of its section, with anchor text from the
linked article's keywords. Links are made when an article leaves Cascade (WordPress, export):
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


def related(content: Content) -> list[Link]:
    """The articles this one links to, best first (same cluster, then most words shared)."""
    cluster, own = _facts(content)
    words = set(content_words(" ".join(own)))
    # One query: the articles of its own cluster first, then the most recent of the others.
    rows = (
        Content.objects.filter(site_id=content.site_id, status__in=WRITTEN)
        .exclude(pk=content.pk)
        .select_related("task__idea__cluster")
        .annotate(same=Case(When(task__idea__cluster_id=cluster, then=1), default=0))
        .order_by("-same", "-id")[:CANDIDATES]
    )
    same, scored = [], []
    for other in rows:
        if cluster is not None and other.same:
            same.append(other)
            continue
        shared = len(words & set(content_words(" ".join(_facts(other)[1]))))
        if shared:
            scored.append((-shared, other.pk, other))
    same.sort(key=lambda other: other.pk)
    chosen = same + [other for _, _, other in sorted(scored, key=lambda t: t[:2])]
    # Each link's words are its own: not this article's keywords (a page linking its own main
    # keyword elsewhere competes with itself), not another link's; else the linked title.
    used = {k.casefold() for k in own}
    found = []
    for other in chosen:
        anchor = next((k for k in _facts(other)[1] if k.casefold() not in used), other.title)
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
    """Where each published article of a site lives (one query), for links in WordPress."""
    addresses = dict(
        Content.objects.filter(site_id=site_id, status=ContentStatus.PUBLISHED)
        .exclude(published_url="")
        .values_list("pk", "published_url")
    )
    return addresses.get


def stale_links(site_id: int) -> list[int]:
    """Published articles whose post would now link to other articles than it does (a related
    article was published since): publishing them again brings their links up to date. Asked
    once the site's publishing queue is empty, so a bulk publish updates each post once."""
    address = published_address(site_id)
    stale = []
    rows = Content.objects.filter(site_id=site_id, status=ContentStatus.PUBLISHED)
    for article in rows.select_related("task__idea__cluster"):
        wanted = [link.target_id for link, _ in chosen(article.html, related(article), address)]
        if wanted != list(article.linked_ids or []):
            stale.append(article.pk)
    return stale
