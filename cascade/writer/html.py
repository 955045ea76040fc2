"""Article HTML: sanitised on every write (an allow-list of tags and attributes, http(s) links
only), counted, and with its pictures in place (the featured one first, each in-article one
after its section's heading)."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from typing import Any

import nh3

TAGS = {
    "p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "b", "i", "a", "blockquote",
    "figure", "figcaption", "img", "br", "hr", "code", "pre", "table", "thead", "tbody", "tr",
    "th", "td",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "loading"},
    "figure": {"data-image"},
    "th": {"scope"},
}
TAG_RE = re.compile(r"<[^>]+>")
FIGURE_RE = re.compile(r'<figure data-image="\d+">.*?</figure>\s*', re.S)
HEADING_END_RE = re.compile(r"</h2>")
MAX_HTML_BYTES = 1024 * 1024  # an article larger than this is refused, not stored


def sanitize(html: str) -> str:
    """Only the allow-listed tags and attributes survive; scripts and styles go with their
    content; links keep http(s) (or relative) addresses and get rel="noopener noreferrer"."""
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        clean_content_tags={"script", "style", "iframe", "object", "template"},
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer",
    ).strip()


def count_words(html: str) -> int:
    return len(html_lib.unescape(TAG_RE.sub(" ", html)).split())


def figure(image: Any, url: str) -> str:
    alt = html_lib.escape(image.alt or "", quote=True)
    size = f' width="{image.width}" height="{image.height}"' if image.width else ""
    return (
        f'<figure data-image="{image.pk}"><img src="{html_lib.escape(url, quote=True)}" '
        f'alt="{alt}"{size} loading="lazy"></figure>\n'
    )


def place_images(html: str, images: Iterable[Any], url_of=lambda image: image.url) -> str:
    """The article with its generated pictures in place: the featured picture first, the n-th
    in-article picture after the n-th section heading (or at the end). Pictures placed before
    are taken out first, so placing again changes nothing."""
    body = FIGURE_RE.sub("", html)
    ready = [i for i in images if i.file]
    featured = [i for i in ready if i.kind == "featured"]
    inside = sorted((i for i in ready if i.kind != "featured"), key=lambda i: i.position)
    ends = [m.end() for m in HEADING_END_RE.finditer(body)]
    # Insert from the last heading backwards so earlier offsets stay valid.
    for n, image in reversed(list(enumerate(inside))):
        at = ends[n] if n < len(ends) else len(body)
        body = body[:at] + "\n" + figure(image, url_of(image)) + body[at:]
    return "".join(figure(i, url_of(i)) for i in featured) + body
