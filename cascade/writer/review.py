"""What people do to articles (contract §8): approve, reject with a reason, send back for a
rewrite with a note, edit, and queue for publishing. Each is a conditional update from the
statuses that allow it, so a double click or two reviewers at once change an article once; an
action that does not fit an article's status is refused with the reason and changes nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cascade.lib.limits import text_problem
from cascade.writer.html import (
    MAX_HTML_BYTES,
    count_words,
    heading_key,
    place_images,
    renamed_headings,
    sanitize,
)
from cascade.writer.models import (
    APPROVABLE,
    PUBLIC,
    PUBLISHABLE,
    REJECTABLE,
    REWRITABLE,
    Content,
    ContentStatus,
    Image,
    Task,
    TaskStatus,
)

NOTE_LIMIT = 2000
KEPT_BY_REWRITES = ("title", "meta_title", "meta_description")
EDITABLE = ("title", "html", "meta_title", "meta_description")  # what an edit may change
# Words of a note that ask a rewrite to change fields a person edited.
ASKS = {
    "title": re.compile(r"(?<!meta )(?<!seo )\b(title|headline)\b", re.I),
    "meta_title": re.compile(r"\b(meta|seo title|title tag|snippet)\b", re.I),
    "meta_description": re.compile(r"\b(meta|description|snippet|excerpt)\b", re.I),
}


def asks_for_title(note: str) -> bool:
    return bool(ASKS["title"].search(note or ""))


def kept_by_rewrite(content: Content, note: str = "") -> list[str]:
    """The fields a person edited that a rewrite with this note keeps as they are."""
    return [
        name
        for name in KEPT_BY_REWRITES
        if name in (content.edited_fields or []) and not ASKS[name].search(note or "")
    ]


class Refused(Exception):
    """The action does not fit the article (its status, or what was sent)."""

    status = 409

    def __init__(self, reason: str, status: int = 409) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def _reason(action: str, content: Content) -> str:
    state = content.get_status_display().lower()
    return f"{'An' if state[0] in 'aeiou' else 'A'} {state} article cannot be {action}."


def _move(content: Content, allowed: frozenset, action: str, **changes: Any) -> Content:
    moved = Content.objects.filter(pk=content.pk, status__in=allowed).update(**changes)
    if moved != 1:
        content.refresh_from_db()
        raise Refused(_reason(action, content))
    content.refresh_from_db()
    return content


def _text(value: Any, what: str) -> str:
    text = " ".join(str(value or "").split())
    if problem := text_problem(text):
        raise Refused(f"{what}: use visible characters only: this {problem}.", 422)
    if not text:
        raise Refused(f"{what}: say why (it may not be empty).", 422)
    if len(text) > NOTE_LIMIT:
        raise Refused(f"{what}: at most {NOTE_LIMIT} characters.", 422)
    return text


def approve(content: Content) -> Content:
    return _move(content, APPROVABLE, "approved", status=ContentStatus.APPROVED, review_note="")


def reject(content: Content, reason: Any) -> Content:
    note = _text(reason, "reason")
    return _move(content, REJECTABLE, "rejected", status=ContentStatus.REJECTED, review_note=note)


def rewrite(content: Content, note: Any) -> Content:
    """Send the article back to stage 4 with the note: its task is queued again and the next
    run writes it again in place (its pictures stay)."""
    text = _text(note, "note")
    with transaction.atomic():
        _move(content, REWRITABLE, "sent back", status=ContentStatus.DRAFT, review_note=text)
        Task.objects.filter(pk=content.task_id).update(status=TaskStatus.QUEUED)
    return content


def _texts(values: dict[str, Any]) -> dict[str, str]:
    """The title and meta an edit sends, checked (Refused for bad input)."""
    limits = {"title": 300, "meta_title": 60, "meta_description": 160}
    texts: dict[str, str] = {}
    for name, limit in limits.items():
        if values.get(name) is not None:
            text = " ".join(str(values[name]).split())
            if problem := text_problem(text):
                raise Refused(f"{name}: use visible characters only: this {problem}.", 422)
            if not text and name == "title":
                raise Refused("title: may not be empty.", 422)
            if len(text) > limit:
                raise Refused(f"{name}: at most {limit} characters ({len(text)} given).", 422)
            texts[name] = text
    return texts


def _body(values: dict[str, Any]) -> str | None:
    """The body an edit sends, sanitised (Refused for bad input), or None."""
    if values.get("html") is None:
        return None
    raw = str(values["html"])
    if problem := text_problem(raw.replace("\n", " ").replace("\r", " ")):
        raise Refused(f"html: use visible characters only: this {problem}.", 422)
    if len(raw.encode()) > MAX_HTML_BYTES:
        raise Refused(f"html: at most {MAX_HTML_BYTES // 1024} KiB of HTML.", 413)
    return sanitize(raw)


def edit(content: Content, values: dict[str, Any], confirm_published: bool = False) -> Content:
    """Change title, meta and body (sanitised; pictures kept in place). A published article
    changes only when the editor says so (the live post changes when it is published again).
    Read and written under the article's lock, so a picture stage 6 places meanwhile is kept."""
    changes: dict[str, Any] = dict(_texts(values))
    clean = _body(values)
    if not changes and clean is None:
        raise Refused(f"Nothing to change: send {', '.join(EDITABLE)}.", 422)
    with transaction.atomic():
        locked = Content.objects.select_for_update().get(pk=content.pk)
        if locked.status in PUBLIC and not confirm_published:
            raise Refused(
                "This article is published: confirm that you mean to change it "
                "(it changes on the site when you publish it again).",
                409,
            )
        edited = [n for n in KEPT_BY_REWRITES if n in changes and changes[n] != getattr(locked, n)]
        if edited:
            changes["edited_fields"] = sorted(set(locked.edited_fields or []) | set(edited))
        moved: list[Image] = []
        if clean is not None:
            # A heading reworded in place keeps its picture under it.
            renamed = renamed_headings(locked.html, clean)
            images = list(locked.images.all())
            moved = [i for i in images if i.section and heading_key(i.section) in renamed]
            for image in moved:
                image.section = renamed[heading_key(image.section)][:300]
            changes["html"] = place_images(clean, images)
            changes["word_count"] = count_words(changes["html"])
        if locked.remote_post_id:
            changes["changed_since_published"] = True
        Content.objects.filter(pk=content.pk).update(**changes, updated_at=timezone.now())
        Image.objects.bulk_update(moved, ["section"])
    content.refresh_from_db()
    return content


def publish(content: Content, batch: uuid.UUID | None = None) -> Content:
    """Queue an approved (or published, to update it) article for its site's WordPress."""
    if not hasattr(content.site, "wordpress"):
        raise Refused("Connect a WordPress first (the site's settings, Publishing).", 409)
    return _move(
        content,
        PUBLISHABLE,
        "published",
        status=ContentStatus.PUBLISHING,
        publish_attempts=0,
        publish_error="",
        publish_not_before=None,
        publish_batch=batch,
    )


ACTIONS = {
    "approve": lambda c, payload, batch: approve(c),
    "reject": lambda c, payload, batch: reject(c, payload.get("reason")),
    "publish": lambda c, payload, batch: publish(c, batch),
}


@dataclass
class Bulk:
    done: list[int] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    batch: uuid.UUID | None = None


def bulk(site: Any, action: str, ids: Iterable[int], payload: dict[str, Any]) -> Bulk:
    """Apply one action to many articles of a site; each that does not fit is refused alone."""
    if action not in ACTIONS:
        raise Refused("action: must be approve, reject or publish.", 422)
    wanted = list(dict.fromkeys(int(i) for i in ids))
    result = Bulk(batch=uuid.uuid4() if action == "publish" else None)
    found = {
        c.pk: c for c in Content.objects.filter(site=site, pk__in=wanted).select_related("site")
    }
    for pk in wanted:
        content = found.get(pk)
        if content is None:
            result.refused.append({"id": pk, "reason": "No such article in this site."})
            continue
        try:
            ACTIONS[action](content, payload, result.batch)
            result.done.append(pk)
        except Refused as refusal:
            result.refused.append({"id": pk, "reason": refusal.reason})
    return result


def search(site: Any, status: str = "", query: str = "", sort: str = "-updated_at"):
    """The site's articles in a tab, found by words of their title or meta description."""
    rows = Content.objects.filter(site=site)
    if status in ContentStatus.values:
        rows = rows.filter(status=status)
    if query:
        rows = rows.filter(Q(title__icontains=query) | Q(meta_description__icontains=query))
    order = (
        sort
        if sort.lstrip("-") in ("updated_at", "title", "word_count", "created_at")
        else "-updated_at"
    )
    return rows.order_by(order, "-id")
