"""Read-only lists of a site's clusters and ideas, each leading to the articles written from
them (a fixed few queries per page, whatever the size of the site)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cascade.accounts.access import page_site
from cascade.planner.models import Cluster, ContentIdea

PER_PAGE = 50


def _page(request: HttpRequest, rows: Any) -> Page:
    number = request.GET.get("page", "1")
    return Paginator(rows, PER_PAGE).get_page(number if number.isdigit() else 1)


@login_required
@require_GET
def clusters(request: HttpRequest, site_id: int) -> HttpResponse:
    site, _ = page_site(request, site_id)
    query = request.GET.get("q", "").strip()[:100]
    ideas = ContentIdea.objects.select_related("task__content").order_by("id")
    rows = Cluster.objects.filter(site=site).order_by("name", "id")
    if query:
        rows = rows.filter(name__icontains=query)
    page = _page(request, rows.prefetch_related(Prefetch("ideas", queryset=ideas)))
    context = {
        "site": site,
        "page": page,
        "query": query,
        "back": urlencode({"q": query}),
    }
    return render(request, "planner/clusters.html", context)


@login_required
@require_GET
def ideas(request: HttpRequest, site_id: int) -> HttpResponse:
    site, _ = page_site(request, site_id)
    query = request.GET.get("q", "").strip()[:100]
    rows = ContentIdea.objects.filter(site=site).select_related("cluster", "task__content")
    if query:
        rows = rows.filter(Q(title__icontains=query) | Q(cluster__name__icontains=query))
    page = _page(request, rows.order_by("id"))
    context = {
        "site": site,
        "page": page,
        "query": query,
        "back": urlencode({"q": query}),
    }
    return render(request, "planner/ideas.html", context)
