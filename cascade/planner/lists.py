"""Read-only lists of a site's clusters and ideas, each leading to the articles written from
them (a fixed few queries per page, whatever the size of the site)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cascade.accounts.access import page_site
from cascade.lib.paging import page_of
from cascade.planner.models import Cluster, ContentIdea

PER_PAGE = 50


def _searchable(request: HttpRequest, site_id: int, kind: str, rows_for: Any) -> HttpResponse:
    """A page of `rows_for(site, query)`, searched by `?q=` (at most 100 characters)."""
    site, _ = page_site(request, site_id)
    query = request.GET.get("q", "").strip()[:100]
    page = page_of(request, rows_for(site, query), PER_PAGE)
    return render(request, f"planner/{kind}.html", {"site": site, "page": page, "query": query})


def _clusters(site: Any, query: str) -> Any:
    rows = Cluster.objects.filter(site=site).order_by("name", "id")
    if query:
        rows = rows.filter(name__icontains=query)
    ideas = ContentIdea.objects.select_related("task__content").order_by("id")
    return rows.prefetch_related(Prefetch("ideas", queryset=ideas))


def _ideas(site: Any, query: str) -> Any:
    rows = ContentIdea.objects.filter(site=site).select_related("cluster", "task__content")
    if query:
        rows = rows.filter(Q(title__icontains=query) | Q(cluster__name__icontains=query))
    return rows.order_by("id")


@login_required
@require_GET
def clusters(request: HttpRequest, site_id: int) -> HttpResponse:
    return _searchable(request, site_id, "clusters", _clusters)


@login_required
@require_GET
def ideas(request: HttpRequest, site_id: int) -> HttpResponse:
    return _searchable(request, site_id, "ideas", _ideas)
