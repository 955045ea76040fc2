"""The articles of a site in the browser: the list with its review tabs, an article with its
pictures in place, review by keyboard, editing, export and publishing; and the pictures
themselves, shown only to members of the site's account."""

from __future__ import annotations

import mimetypes
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from cascade.accounts.access import page_site
from cascade.accounts.models import Membership, Site
from cascade.ai.notes import only_about_length
from cascade.lib.paging import page_of
from cascade.writer import links, media_links, publishing, review
from cascade.writer.exporting import export_response
from cascade.writer.html import FIGURE_RE
from cascade.writer.models import (
    APPROVABLE,
    PUBLISHABLE,
    REJECTABLE,
    REWRITABLE,
    Content,
    ContentStatus,
)
from cascade.writer.review import kept_by_rewrite

PER_PAGE = 25
TABS = [
    ContentStatus.REVIEW,
    ContentStatus.APPROVED,
    ContentStatus.REJECTED,
    ContentStatus.PUBLISHING,
    ContentStatus.PUBLISHED,
    ContentStatus.PUBLISH_FAILED,
    ContentStatus.DRAFT,
]
SORTS = {"-updated_at": "Latest first", "title": "Title", "-word_count": "Longest first"}
EMPTY: dict[str, str] = {
    ContentStatus.REVIEW: "No article waits for review. Runs put finished articles here.",
    ContentStatus.APPROVED: "No approved article yet. Approve articles in the Review tab.",
    ContentStatus.PUBLISHED: "Nothing published yet. Publish approved articles to WordPress.",
}
ID_RE = re.compile(r"^[1-9][0-9]{0,17}$")  # an id that fits the database
MAX_SELECTED = 1000
MEDIA_RE = re.compile(r"^sites/(\d+)/")


@require_GET
def media(request: HttpRequest, path: str) -> HttpResponseBase:
    """A picture, for members of its site's account, or for whoever holds a signed address the
    API gave (media_links); anyone else gets 404 (a path reveals nothing). Behind nginx the file
    is sent by nginx (X-Accel-Redirect)."""
    match = MEDIA_RE.match(path)
    user = request.user
    if match is None or ".." in path:
        raise Http404("No such file.")
    link = request.GET.get("expires", ""), request.GET.get("signature", "")
    if all(link):
        if not media_links.valid(path, *link):
            raise Http404("This picture's address has expired or is not genuine.")
    elif not user.is_authenticated or not (
        Membership.objects.filter(
            user_id=user.pk, account__sites__id=int(match[1]), account__sites__images__file=path
        ).exists()
    ):
        raise Http404("No such file.")
    if settings.CASCADE_MEDIA_ACCEL_REDIRECT:
        accel = HttpResponse(content_type=mimetypes.guess_type(path)[0] or "image/png")
        accel["X-Accel-Redirect"] = settings.CASCADE_MEDIA_ACCEL_REDIRECT.rstrip("/") + "/" + path
        return accel
    file = Path(settings.MEDIA_ROOT) / path
    if not file.is_file():
        raise Http404("No such file.")
    response = FileResponse(file.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def articles(request: HttpRequest, site_id: int) -> HttpResponseBase:
    """The site's articles by review state (GET), or a bulk action on the selected ones (POST)."""
    site, can_edit = page_site(request, site_id)
    return (_bulk if request.method == "POST" else _listed)(request, site, can_edit)


def _listed(request: HttpRequest, site: Site, can_edit: bool) -> HttpResponseBase:
    status = request.GET.get("status", ContentStatus.REVIEW)
    if status not in ContentStatus.values:
        status = ContentStatus.REVIEW
    query = request.GET.get("q", "").strip()[:100]
    sort = request.GET.get("sort", "-updated_at")
    counts = dict(
        Content.objects.filter(site=site).values_list("status").annotate(n=Count("id")).order_by()
    )
    rows = review.search(site, status, query, sort).select_related("task__idea__cluster")
    # Without a search the tab's count is known already.
    page = page_of(request, rows.defer("html"), PER_PAGE, None if query else counts.get(status, 0))
    batch = request.session.get(f"publish_batch_{site.pk}")
    context = {
        "site": site,
        "can_edit": can_edit,
        "tabs": [(s, ContentStatus(s).label, counts.get(s, 0)) for s in TABS],
        "status": status,
        "status_label": ContentStatus(status).label,
        "back": urlencode({"status": status, "q": query, "sort": sort}),
        "empty": EMPTY.get(status, "No articles here."),
        "query": query,
        "sort": sort,
        "sorts": SORTS,
        "page": page,
        "progress": publishing.batch_progress(site, uuid.UUID(batch) if batch else None),
        "has_wordpress": hasattr(site, "wordpress"),
    }
    return render(request, "writer/articles.html", context)


def _bulk(request: HttpRequest, site: Site, can_edit: bool) -> HttpResponseBase:
    back = f"{reverse('articles', args=[site.pk])}?{request.POST.get('back', '')}"
    ids = [int(i) for i in request.POST.getlist("ids")[:MAX_SELECTED] if ID_RE.match(i)]
    action = request.POST.get("action", "")
    if action.startswith("export-"):  # reading: every role may export
        return export_response(request, site, ids=ids, fmt=action.removeprefix("export-"))
    if not can_edit:
        messages.error(request, "Your role may read articles but not change them.")
        return redirect(back)
    if not ids:
        messages.error(request, "Select articles first.")
        return redirect(back)
    try:
        result = review.bulk(site, action, ids, {"reason": request.POST.get("reason")})
    except review.Refused as refusal:
        messages.error(request, refusal.reason)
        return redirect(back)
    if result.batch:
        request.session[f"publish_batch_{site.pk}"] = str(result.batch)
    if result.done:
        done = {"approve": "approved", "reject": "rejected", "publish": "queued for WordPress"}
        messages.success(
            request, f"{len(result.done):,} article{pluralize(len(result.done))} {done[action]}."
        )
    for refused in result.refused[:5]:
        messages.error(request, f"Article {refused['id']}: {refused['reason']}")
    return redirect(back)


@login_required
@require_GET
def publish_progress(request: HttpRequest, site_id: int) -> HttpResponse:
    """The latest bulk publish's progress (the list page polls it while articles wait)."""
    site, _ = page_site(request, site_id)
    batch = request.session.get(f"publish_batch_{site.pk}")
    progress = publishing.batch_progress(site, uuid.UUID(batch) if batch else None)
    return render(request, "writer/publish_progress.html", {"site": site, "progress": progress})


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
    replaced = ["the text"] + [
        LABELS[name] for name in ("meta_title", "meta_description") if name not in kept
    ]
    return {
        "rewrite_replaces": replaced,
        "rewrite_keeps": [LABELS[name] for name in kept],
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
    messages.success(request, f"“{content.title}”: {content.get_status_display().lower()}.")
    _, following = _neighbours(site, content, tab)
    if action in ("approve", "reject") and following:  # on to the next in the review tab
        return redirect(f"{reverse('article', args=[site.pk, following])}?tab={tab}")
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


@login_required
@require_GET
def export(request: HttpRequest, site_id: int) -> HttpResponseBase:
    site, _ = page_site(request, site_id)
    status = request.GET.get("status", ContentStatus.APPROVED)
    return export_response(request, site, status=status, fmt=request.GET.get("format", "markdown"))
