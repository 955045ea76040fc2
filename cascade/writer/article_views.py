"""One article in the browser: its page with the pictures in place, review by keyboard
(approve, reject, rewrite with a note, publish) and its editor."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from cascade.accounts.access import page_site
from cascade.accounts.models import Site
from cascade.ai.notes import only_about_length
from cascade.lib.words import listed
from cascade.writer import links, review
from cascade.writer.html import FIGURE_RE
from cascade.writer.models import (
    APPROVABLE,
    PUBLISHABLE,
    REJECTABLE,
    REWRITABLE,
    Content,
    ContentStatus,
)
from cascade.writer.review import KEPT_BY_REWRITES, kept_by_rewrite


def _article(site: Site, content_id: int) -> Content:
    content = (
        Content.objects.filter(site=site, pk=content_id)
        .select_related("task__idea__cluster", "site")
        .first()
    )
    if content is None:
        raise Http404("No such article.")
    return content


def _neighbours(site: Site, content: Content, status: str) -> tuple[int | None, int | None]:
    """The articles before and after this one in its tab (j and k)."""
    tab = Content.objects.filter(site=site, status=status).order_by("-updated_at", "-id")
    ids = list(tab.values_list("id", flat=True)[:500])
    if content.pk not in ids:
        return None, ids[0] if ids else None
    at = ids.index(content.pk)
    return (ids[at - 1] if at else None), (ids[at + 1] if at + 1 < len(ids) else None)


LABELS = {"title": "title", "meta_title": "meta title", "meta_description": "meta description"}
# What an action did to an article, in the flash message that follows it.
DONE = {
    "approve": "approved",
    "reject": "rejected",
    "rewrite": "sent back: the next run writes it again",
    "publish": "queued for WordPress",
}


def links_of(content: Content) -> list[dict[str, Any]]:
    """The related articles this one will link to once they are published."""
    chosen = links.related(content)[: links.LIMIT]
    titles = dict(
        Content.objects.filter(pk__in=[c.target_id for c in chosen]).values_list("pk", "title")
    )
    return [
        {"id": c.target_id, "title": titles.get(c.target_id, ""), "anchor": c.anchor}
        for c in chosen
    ]


def rewrite_terms(content: Content) -> dict[str, Any]:
    """What a rewrite of this article replaces and keeps, said before it runs."""
    kept = kept_by_rewrite(content)
    offline = settings.CASCADE_AI_PROVIDER == "local"
    # The title stays unless the note asks for a new one (steps/writing.py); edited meta stays
    # unless the note asks to change it.
    meta = [name for name in KEPT_BY_REWRITES if name != "title"]
    replaced = ["text"] + [LABELS[name] for name in meta if name not in kept]
    keeps = ["title"] + [f"your edited {LABELS[name]}" for name in meta if name in kept]
    return {
        "rewrite_terms": (
            f"A rewrite replaces its {listed(replaced)}, and keeps its {listed(keeps)} unless the "
            f"note asks to change {'it' if len(keeps) == 1 else 'them'}."
        ),
        "offline_writer": offline,
        # a rewrite waiting with a note the offline writer can follow only in part
        "note_beyond_offline": offline
        and content.status == ContentStatus.DRAFT
        and bool(content.review_note)
        and not only_about_length(content.review_note),
    }


@login_required
@require_http_methods(["GET", "POST"])
def article(request: HttpRequest, site_id: int, content_id: int) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    content = _article(site, content_id)
    tab = request.GET.get("tab", content.status)
    if tab not in ContentStatus.values:
        tab = content.status
    if request.method == "POST":
        return _act(request, site, content, can_edit, tab)
    previous, following = _neighbours(site, content, tab)
    images = list(content.images.order_by("position"))
    idea = content.task.idea
    target = content.task.target_words
    context = {
        "site": site,
        "content": content,
        "images": images,
        "idea": idea,
        "cluster": idea.cluster if idea else None,
        "target": target,
        "target_share": round(100 * content.word_count / target) if target else 0,
        "keywords": list(idea.target_keywords) if idea else [],
        "can_edit": can_edit,
        "tab": tab,
        "tab_label": ContentStatus(tab).label,
        "approvable": APPROVABLE,
        "rejectable": REJECTABLE,
        "rewritable": REWRITABLE,
        "publishable": PUBLISHABLE,
        "previous": previous,
        "following": following,
        "has_wordpress": hasattr(site, "wordpress"),
        **rewrite_terms(content),
        "links_to": links_of(content),
    }
    return render(request, "writer/article.html", context)


def _act(
    request: HttpRequest, site: Site, content: Content, can_edit: bool, tab: str
) -> HttpResponse:
    here = f"{reverse('article', args=[site.pk, content.pk])}?tab={tab}"
    if not can_edit:
        messages.error(request, "Your role may read articles but not change them.")
        return redirect(here)
    action = request.POST.get("action", "")
    # (before the action: an approved or rejected article leaves its tab)
    moves_on = action in ("approve", "reject")
    previous, following = _neighbours(site, content, tab) if moves_on else (None, None)
    try:
        if action == "approve":
            review.approve(content)
        elif action == "reject":
            review.reject(content, request.POST.get("reason"))
        elif action == "rewrite":
            review.rewrite(content, request.POST.get("note"))
        elif action == "publish":
            review.publish(content)
        else:
            raise review.Refused("Choose approve, reject, rewrite or publish.", 422)
    except review.Refused as refusal:
        messages.error(request, refusal.reason)
        return redirect(here)
    messages.success(request, f"“{content.title}” {DONE[action]}.")
    after = following or previous  # on to the next in the tab (the one before, at its end)
    if moves_on and after:
        return redirect(f"{reverse('article', args=[site.pk, after])}?tab={tab}")
    return redirect(here)


@login_required
@require_http_methods(["GET", "POST"])
def article_edit(request: HttpRequest, site_id: int, content_id: int) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    content = _article(site, content_id)
    if not can_edit:
        raise Http404("No such page.")
    error = ""
    values = {
        "title": content.title,
        "meta_title": content.meta_title,
        "meta_description": content.meta_description,
        "html": FIGURE_RE.sub("", content.html),  # pictures are placed again on saving
    }
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            review.edit(content, values, confirm_published=bool(request.POST.get("confirm")))
        except review.Refused as refusal:
            error = refusal.reason
        else:
            messages.success(request, "Saved.")
            return redirect("article", site.pk, content.pk)
    context = {
        "site": site,
        "content": content,
        "values": values,
        "error": error,
        "public": content.status in (ContentStatus.PUBLISHED, ContentStatus.PUBLISHING),
    }
    return render(request, "writer/article_edit.html", context, status=422 if error else 200)
