"""A site's keywords in the browser: import (a CSV by file picker or drag and drop, with the
same per-row report as the API), list, search, filter, and disable, enable or delete."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cascade.accounts.access import page_site
from cascade.accounts.models import Site
from cascade.lib.limits import digits
from cascade.lib.paging import page_of
from cascade.planner.importing import MAX_ROWS, ImportRefused, import_rows, rows_from_csv
from cascade.planner.models import Keyword, KeywordStatus

PER_PAGE = 50
SHOWN_REJECTIONS = 200


def _filtered(site: Site, params: Any) -> tuple[QuerySet, dict[str, str]]:
    filters = {k: params.get(k, "").strip()[:100] for k in ("q", "status", "show")}
    rows = Keyword.objects.filter(site=site)
    if filters["q"]:
        rows = rows.filter(
            Q(keyword__icontains=filters["q"]) | Q(cluster__name__icontains=filters["q"])
        )
    if filters["status"] in KeywordStatus.values:
        rows = rows.filter(status=filters["status"])
    if filters["show"] == "disabled":
        rows = rows.filter(disabled=True)
    elif filters["show"] == "enabled":
        rows = rows.filter(disabled=False)
    return rows.select_related("cluster").order_by("id"), filters


@login_required
@require_http_methods(["GET", "POST"])
def keywords(request: HttpRequest, site_id: int) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    if request.method == "POST":
        return _bulk(request, site, can_edit)
    rows, filters = _filtered(site, request.GET)
    page = page_of(request, rows, PER_PAGE)
    context = {
        "site": site,
        "page": page,
        "filters": filters,
        "can_edit": can_edit,
        "statuses": KeywordStatus.choices,
        "max_rows": MAX_ROWS,
        "max_mib": f"{settings.CASCADE_IMPORT_MAX_BYTES / 2**20:g}",
        "query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
    }
    return render(request, "planner/keywords.html", context)


def _bulk(request: HttpRequest, site: Site, can_edit: bool) -> HttpResponse:
    """Disable, enable or delete the selected keywords of the site."""
    if not can_edit:
        messages.error(request, "Your role may watch this site but not change it.")
        return redirect("keywords", site.pk)
    ids = [int(i) for i in request.POST.getlist("ids") if digits(i)][: PER_PAGE * 10]
    chosen = Keyword.objects.filter(site=site, id__in=ids)
    action = request.POST.get("action")
    if not ids:
        messages.error(request, "Select keywords first.")
    elif action in ("disable", "enable"):
        count = chosen.update(disabled=action == "disable")
        messages.success(request, f"{count:,} keyword{'s' if count != 1 else ''} {action}d.")
    elif action == "delete":
        # Clustered keywords belong to articles already: they can be disabled, not deleted.
        count, _ = chosen.filter(status=KeywordStatus.NEW).delete()
        kept = len(ids) - count
        note = f" {kept:,} already clustered: disable them instead." if kept else ""
        messages.success(request, f"{count:,} keyword{'s' if count != 1 else ''} deleted.{note}")
    else:
        messages.error(request, "Choose disable, enable or delete.")
    back = request.POST.get("back", "")
    return redirect(f"{request.path}?{back}" if back and "\n" not in back else request.path)


@login_required
@require_POST
def import_keywords(request: HttpRequest, site_id: int) -> HttpResponse:
    """A CSV file (field `file`) imported into the site; answers the per-row report."""
    site, can_edit = page_site(request, site_id)
    context: dict[str, object] = {"site": site}
    upload = request.FILES.get("file")
    if not can_edit:
        context["error"] = "Your role may watch this site but not change it."
    elif upload is None:
        context["error"] = "Choose a CSV file with a header row and a 'keyword' column."
    elif (upload.size or 0) > settings.CASCADE_IMPORT_MAX_BYTES:
        context["error"] = (
            f"The file is {(upload.size or 0) / 2**20:.1f} MiB; import at most "
            f"{settings.CASCADE_IMPORT_MAX_BYTES / 2**20:g} MiB at once."
        )
    else:
        try:
            rows = rows_from_csv(upload.chunks())
            report = import_rows(site, rows, first_row=2)
            context["report"] = report.as_dict()
            context["ignored"] = rows.ignored
            context["shown"] = report.rejected[:SHOWN_REJECTIONS]
            context["duplicates_shown"] = report.duplicate_rows[:SHOWN_REJECTIONS]
        except ImportRefused as exc:
            context["error"] = str(exc)
    status = 200 if "report" in context else 422
    response = render(request, "planner/import_report.html", context, status=status)
    if status == 200:
        response["HX-Trigger"] = "keywords-changed"
    return response
