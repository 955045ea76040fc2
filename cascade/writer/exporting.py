"""Articles as a ZIP (contract §8): one folder per article, `index.md` with front matter (or
`index.html`) and its pictures under `images/`. The ZIP is streamed as it is made: articles are
read a page at a time and each page's files are written before the next is read, so exporting
1,000 articles holds one page of them in memory, never the archive."""

from __future__ import annotations

import gc
import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.text import slugify
from markdownify import MarkdownConverter
from zipstream import ZIP_DEFLATED, ZipStream

from cascade.writer.models import Content, ContentStatus, ImageStatus

FORMATS = ("markdown", "html")
PAGE = 100  # articles read at a time
SRC_RE = re.compile(r'(<figure data-image="(\d+)"><img src=")([^"]*)(")')


class ExportRefused(ValueError):
    """What was asked cannot be exported; the message says which field and why."""


def articles(site: Any, status: str | None = None, ids: Iterable[int] | None = None) -> Any:
    rows = Content.objects.filter(site=site)
    if ids is not None:
        return rows.filter(pk__in=list(ids))
    if status not in ContentStatus.values:
        raise ExportRefused(f"status: must be one of {', '.join(ContentStatus.values)}")
    return rows.filter(status=status)


def front_matter(content: Content) -> str:
    """YAML front matter; every value is written as JSON, which YAML reads as it is (so a
    title with a colon or a quote needs no further escaping)."""
    idea = content.task.idea
    fields = {
        "title": content.title,
        "meta_title": content.meta_title,
        "meta_description": content.meta_description,
        "keywords": list(idea.target_keywords) if idea else [],
        "cluster": idea.cluster.name if idea and idea.cluster else None,
        "status": content.status,
        "word_count": content.word_count,
        "published_url": content.published_url or None,
        # written by the offline provider: placeholder text to be rewritten by a real model
        "offline_draft": content.is_offline_draft,
    }
    lines = [f"{name}: {json.dumps(value, ensure_ascii=False)}" for name, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n"


def _document(content: Content, fmt: str, local: dict[int, str]) -> str:
    body = SRC_RE.sub(lambda m: m[1] + local.get(int(m[2]), m[3]) + m[4], content.html)
    if fmt == "html":
        title = escape(content.title)
        # placeholder text says so wherever it goes
        draft = '\n<meta name="generator" content="Cascade offline draft">'
        return (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title>\n'
            f'<meta name="description" content="{escape(content.meta_description)}">'
            f"{draft if content.is_offline_draft else ''}"
            f"</head><body>\n<h1>{title}</h1>\n{body}\n</body></html>\n"
        )
    return front_matter(content) + to_markdown(body) + "\n"


class _Markdown(MarkdownConverter):
    """Markdown that renders as the article reads: text that looks like markup (an escaped
    `<script>`, `[x](javascript:…)`) stays text, and links keep http(s) addresses only."""

    def convert_a(self, el: Any, text: str, *args: Any, **kwargs: Any) -> str:
        href = str(el.get("href") or "")
        if urlsplit(href).scheme not in ("http", "https", ""):
            return text
        el["href"] = _safe_destination(href)  # a ")" must not end the link early
        return super().convert_a(el, text, *args, **kwargs)  # type: ignore[misc]

    def convert_img(self, el: Any, text: str, *args: Any, **kwargs: Any) -> str:
        el["alt"] = re.sub(r"([\\\[\]])", r"\\\1", str(el.get("alt") or ""))
        el["src"] = _safe_destination(str(el.get("src") or ""))
        return super().convert_img(el, text, *args, **kwargs)  # type: ignore[misc]


def _safe_destination(url: str) -> str:
    """A link destination Markdown reads whole: characters that could end it, percent-encoded."""
    return "".join(f"%{ord(c):02X}" if c in "()<> \t\n\"'" else c for c in url)


def to_markdown(html: str) -> str:
    return _Markdown(heading_style="ATX", escape_misc=True).convert(html).strip()


def _folder(content: Content) -> str:
    return f"{content.pk}-{slugify(content.title)[:60] or 'article'}"


def stream(rows: Any, fmt: str) -> Iterator[bytes]:
    """The ZIP's bytes, page by page of articles."""
    archive = ZipStream(compress_type=ZIP_DEFLATED, sized=False)
    media = Path(settings.MEDIA_ROOT)
    rows = rows.select_related("task__idea__cluster").order_by("id")
    last = 0
    while True:
        page = list(rows.filter(pk__gt=last)[:PAGE].prefetch_related("images"))
        if not page:
            break
        for content in page:
            folder = _folder(content)
            local = {}
            for image in content.images.all():
                file = media / image.file if image.file else None
                if image.status == ImageStatus.GENERATED and file and file.is_file():
                    name = f"images/{image.token}.png"
                    local[image.pk] = name
                    archive.add_path(str(file), f"{folder}/{name}", compress_type=0)
            index = "index.html" if fmt == "html" else "index.md"
            archive.add(_document(content, fmt, local), f"{folder}/{index}")
        last = page[-1].pk
        yield from archive.all_files()
        # The Markdown converter's parse trees are cycles that the collector would otherwise
        # gather only now and then, letting memory climb with the number of articles.
        gc.collect()
    yield from archive.footer()


def _pieces(chunks: Iterator[bytes], size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """The ZIP for the ASGI server: each piece of about `size` bytes is made in the request's
    thread (where its database connection lives), so the archive is never collected whole."""

    def pull() -> bytes:
        out, total = [], 0
        for chunk in chunks:
            out.append(chunk)
            total += len(chunk)
            if total >= size:
                break
        return b"".join(out)

    async def pieces() -> AsyncIterator[bytes]:
        while piece := await sync_to_async(pull, thread_sensitive=True)():
            yield piece

    return pieces()


def export_response(
    request: Any,
    site: Any,
    *,
    status: str | None = None,
    ids: Iterable[int] | None = None,
    fmt: str = "markdown",
) -> HttpResponseBase:
    """The download: a streamed ZIP, or 422 saying what is wrong with the request."""
    if fmt not in FORMATS:
        return JsonResponse({"detail": "format: must be markdown or html"}, status=422)
    try:
        rows = articles(site, status, ids)
    except ExportRefused as refusal:
        return JsonResponse({"detail": str(refusal)}, status=422)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"{slugify(site.name) or 'site'}-articles-{stamp}.zip"
    chunks = stream(rows, fmt)
    # Under the ASGI server the body must be an async iterator, or it is collected whole first.
    body = _pieces(chunks) if hasattr(request, "scope") else chunks
    response = StreamingHttpResponse(body, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
