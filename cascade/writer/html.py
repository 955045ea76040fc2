"""Article HTML: sanitised on every write (an allow-list of tags and attributes, http(s) links
only), counted, and with its pictures in place (the featured one first, each in-article one
after its section's heading)."""

from __future__ import annotations

import difflib
import html as html_lib
import re
from collections.abc import Iterable
from typing import Any

import nh3

TAGS = {
    "p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "b", "i", "a", "blockquote",
    "figure", "figcaption", "br", "hr", "code", "pre", "table", "thead", "tbody", "tr",
    "th", "td",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "figure": {"data-image"},
    "th": {"scope"},
}
TAG_RE = re.compile(r"<[^>]+>")
FIGURE_RE = re.compile(r'<figure data-image="\d+">.*?</figure>\s*', re.S)
H2_RE = re.compile(r"<h2[^>]*>(.*?)</h2>", re.S)
MAX_HTML_BYTES = 1024 * 1024  # an article larger than this is refused, not stored


def sanitize(html: str) -> str:
    """Only the allow-listed tags and attributes survive; scripts and styles go with their
    content; links keep http(s) (or relative) addresses and get rel="noopener noreferrer".
    No picture survives: an article shows only its own, put back by `place_images` after every
    write, so no `<img>` can make a reviewer's browser fetch a tracking pixel or one of
    Cascade's own addresses."""
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


def plain(fragment: str) -> str:
    """Markup as the words a reader sees, on one line."""
    return " ".join(html_lib.unescape(TAG_RE.sub(" ", fragment)).split())


def heading_key(text: str) -> str:
    return plain(text).casefold()


def renamed_headings(before: str, after: str) -> dict[str, str]:
    """Headings an edit reworded in place: {the old heading's key: the new heading's text}, so
    that its picture follows it. Only a heading that is unique, gone, and replaced one for one
    where it stood (the headings around it unchanged) counts; anything less certain (moved,
    deleted, repeated) leaves its picture to the end of the article."""
    old = [heading_key(m.group(1)) for m in H2_RE.finditer(before)]
    new = [plain(m.group(1)) for m in H2_RE.finditer(after)]
    new_keys = [heading_key(text) for text in new]
    renamed: dict[str, str] = {}
    matcher = difflib.SequenceMatcher(a=old, b=new_keys, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op != "replace" or a1 - a0 != b1 - b0:
            continue
        for o, n, key in zip(old[a0:a1], new[b0:b1], new_keys[b0:b1], strict=True):
            if old.count(o) == 1 and o not in new_keys and key not in old:
                renamed[o] = n
    return renamed


def sections(html: str) -> list[tuple[str, str]]:
    """The article's sections: each second-level heading's text and the text under it, up to
    the next one (pictures left out)."""
    body = FIGURE_RE.sub("", html)
    found = list(H2_RE.finditer(body))
    return [
        (
            plain(m.group(1)),
            plain(body[m.end() : found[n + 1].start() if n + 1 < len(found) else None]),
        )
        for n, m in enumerate(found)
    ]


def without_featured(html: str, images: Iterable[Any]) -> str:
    """The article without its featured picture (where the featured picture is shown apart
    from the body, as WordPress's themes do)."""
    featured = {str(i.pk) for i in images if i.kind == "featured"}

    def keep(m: re.Match[str]) -> str:
        number = re.search(r'data-image="(\d+)"', m.group(0))
        return "" if number and number.group(1) in featured else m.group(0)

    return FIGURE_RE.sub(keep, html).lstrip()


def place_images(html: str, images: Iterable[Any], url_of=lambda image: image.url) -> str:
    """The article with its generated pictures in place: the featured picture first, each
    in-article picture right after the heading of the section it was made for (a picture whose
    heading is gone, edited away by a reviewer, goes at the end). Pictures placed before are
    taken out first, so placing again changes nothing."""
    body = FIGURE_RE.sub("", html)
    ready = [i for i in images if i.file]
    featured = [i for i in ready if i.kind == "featured"]
    inside = sorted((i for i in ready if i.kind != "featured"), key=lambda i: i.position)
    ends: dict[str, int] = {}
    for m in H2_RE.finditer(body):
        ends.setdefault(heading_key(m.group(1)), m.end())
    placed = sorted(
        (
            # pictures of old migrations' historical models have no section: at the end
            (ends.get(heading_key(getattr(i, "section", "") or ""), len(body)), n, i)
            for n, i in enumerate(inside)
        ),
        key=lambda t: (t[0], t[1]),
    )
    # Insert from the end backwards so earlier offsets stay valid.
    for at, _, image in reversed(placed):
        body = body[:at] + "\n" + figure(image, url_of(image)) + body[at:]
    return "".join(figure(i, url_of(i)) for i in featured) + body
