"""The pages around the Automation page: home (to the one site, or to Sites), the Sites
overview, the site switcher; and the health checks."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from cascade.accounts.access import memberships_of, sites_of
from cascade.accounts.models import CAN_OPERATE
from cascade.automation.wording import MEASURE, what_items_are
from cascade.lib.limits import MAX_ID
from cascade.live.hub import hub
from cascade.live.watchers import STATS
from cascade.web import overview

log = logging.getLogger("cascade.health")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Whether the server can reach its database. The reason of a failure goes to the log (and
    to staff), never to anyone who asks: it may name hosts and ports."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the point of this endpoint is to say so
        log.error("health check: the database is unreachable: %s", exc)
        body = {"status": "error", "detail": "The database is unreachable."}
        try:
            if _is_staff(request):
                body["reason"] = str(exc)
        except Exception:  # who asks is unknown without a database: tell nobody
            pass
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok"})


def _is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return bool(user.is_staff)
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        from cascade.api import BearerToken

        user = BearerToken().authenticate(request, header.split(" ", 1)[1].strip())
        return bool(user and user.is_staff)
    return False


@require_GET
def live_stats(request: HttpRequest) -> HttpResponse:
    """The cost of change detection in this process, for benchmarks and monitoring (staff
    only): polls of the database (`checks`), reads of one watcher's state after a change it
    was told of without its new version (`reads`), watchers and the viewers they serve."""
    if not _is_staff(request):
        return JsonResponse(
            {"detail": "Staff only: log in as staff or send a staff token."}, status=403
        )
    viewers = sum(len(w.queues) for w in hub.watchers.values())
    return JsonResponse(
        {
            "checks": STATS["checks"],
            "reads": STATS["reads"],
            "watchers": len(hub.watchers),
            "viewers": viewers,
        }
    )


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    sites = sites_of(request.user)
    if len(sites) == 1:
        return redirect("automation", sites[0].pk)
    return redirect("sites")


@login_required
@require_GET
def site_list(request: HttpRequest) -> HttpResponse:
    """Every site at a glance, sortable by each column, kept live by one stream."""
    sort = request.GET.get("sort", "name")
    sort = sort if sort in overview.SORTS else "name"
    rows = overview.rows(request.user, sort)
    can_create = memberships_of(request.user).filter(role__in=CAN_OPERATE).exists()
    context = {
        "rows": rows,
        "sites": [row["site"] for row in rows],
        "can_create": can_create,
        "sort": sort,
        "descending": overview.SORTS[sort][1],
        "columns": overview.COLUMNS,
        "items_explained": what_items_are(),
        "measure": MEASURE,
    }
    return render(request, "web/sites.html", context)


@login_required
@require_GET
def site_go(request: HttpRequest) -> HttpResponse:
    """The site switcher: a form GET, or an htmx request answered with HX-Redirect."""
    chosen = request.GET.get("site", "").strip()
    if chosen.isascii() and chosen.isdecimal() and 0 < int(chosen) <= MAX_ID:
        target = redirect("automation", int(chosen))
    else:  # nothing chosen, or no site could have this id
        target = redirect("sites")
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target["Location"]
        return response
    return target
