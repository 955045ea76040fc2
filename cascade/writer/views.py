"""The articles of a site in the browser: the list with its review tabs, bulk review, export
and publishing; and the pictures themselves, shown only to members of the site's account.
One article's page and its editor are `article_views`."""

from __future__ import annotations

import mimetypes
import re
import time
import uuid
from pathlib import Path
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
from cascade.lib.paging import page_of
from cascade.writer import media_links, publishing, review
from cascade.writer.exporting import export_response
from cascade.writer.models import (
    Content,
    ContentStatus,
)

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
    # kept by the browser no longer than a signed address lasts (at most an hour)
    left = int(link[0]) - int(time.time()) if all(link) else 3600
    response["Cache-Control"] = f"private, max-age={max(0, min(3600, left))}"
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


@login_required
@require_GET
def export(request: HttpRequest, site_id: int) -> HttpResponseBase:
    site, _ = page_site(request, site_id)
    status = request.GET.get("status", ContentStatus.APPROVED)
    return export_response(request, site, status=status, fmt=request.GET.get("format", "markdown"))
