"""Every site at a glance (the Sites page): each site's active run with its whole-run bar, the
last outcome, the next scheduled run, the articles waiting for review and the credits used this
month. A fixed handful of queries whatever the number of sites; live through one stream."""

from __future__ import annotations

from typing import Any

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from cascade.accounts.models import Site
from cascade.automation import progress
from cascade.automation.board import Board, board
from cascade.automation.history import outcome_texts, runs_with_stages
from cascade.automation.latest import latest_run_fields
from cascade.automation.models import AutomationRun, Schedule
from cascade.automation.statuses import ACTIVE, FINISHED
from cascade.writer.models import Content, ContentStatus

# The columns the table sorts by: (key for rows, descending first).
SORTS: dict[str, tuple[str, bool]] = {
    "name": ("sort_name", False),
    "progress": ("sort_progress", True),
    "last": ("sort_last", True),
    "next": ("sort_next", False),
    "review": ("review", True),
    "credits": ("credits_month", True),
}


COLUMNS = [
    ("name", "Site"),
    ("progress", "Active run"),
    ("last", "Last run"),
    ("next", "Next scheduled run"),
    ("review", "Waiting for review"),
    ("credits", "Credits this month"),
]


def render_rows(user: Any, sort: str) -> str:
    """The table's rows, for the stream (the page renders the same partial)."""
    return render_to_string(
        "web/sites.html#overview_rows", {"rows": rows(user, sort), "sort": sort}
    )


def _sites(user: Any) -> Any:
    """The user's sites with their latest run, last finished run and next scheduled start."""
    runs = AutomationRun.objects.filter(site_id=OuterRef("pk"))
    finished = runs.filter(status__in=FINISHED).order_by("-finished_at", "-created_at")
    return (
        Site.objects.filter(account__memberships__user=user)
        .select_related("account")
        .annotate(
            member_role=F("account__memberships__role"),
            latest_run=latest_run_fields()["run_pk"],
            last_run=Subquery(finished.values("pk")[:1]),
            last_outcome=Subquery(finished.values("outcome")[:1]),
            last_finished_at=Subquery(finished.values("finished_at")[:1]),
            next_run_at=Subquery(
                Schedule.objects.filter(site_id=OuterRef("pk"), enabled=True).values("next_run_at")[
                    :1
                ]
            ),
        )
        .order_by("name", "id")
    )


def _bars(run_ids: list[Any]) -> dict[str, Board]:
    """Each active run as the Automation page words it (its snapshot built by the snapshot's
    own code from the run and its stages: one query for all of them, nothing written)."""
    found = runs_with_stages(run_ids, status__in=ACTIVE)
    return {str(pk): board(progress.compose(run, stages)) for pk, (run, stages) in found.items()}


def rows(user: Any, sort: str = "name") -> list[dict[str, Any]]:
    sites = list(_sites(user))
    ids = [s.pk for s in sites]
    month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    review = dict(
        Content.objects.filter(site_id__in=ids, status=ContentStatus.REVIEW)
        .values_list("site_id")
        .annotate(n=Count("id"))
        .values_list("site_id", "n")
    )
    credits = dict(
        AutomationRun.objects.filter(site_id__in=ids, created_at__gte=month)
        .values_list("site_id")
        .annotate(n=Coalesce(Sum("credits_used"), Value(0), output_field=IntegerField()))
        .values_list("site_id", "n")
    )
    bars = _bars([s.latest_run for s in sites if s.latest_run])
    outcomes = outcome_texts([s.last_run for s in sites if s.last_run])
    result = []
    for site in sites:
        bar = bars.get(str(site.latest_run)) if site.latest_run else None
        result.append(
            {
                "site": site,
                "bar": bar,
                "last_outcome": site.last_outcome,
                "last_label": outcomes.get(str(site.last_run), ""),
                "last_finished_at": site.last_finished_at,
                "next_run_at": site.next_run_at,
                "review": review.get(site.pk, 0),
                "credits_month": credits.get(site.pk, 0),
                "sort_name": (site.name.lower(), site.pk),
                "sort_progress": (bar is not None, bar.global_progress.percentage if bar else -1),
                "sort_last": site.last_finished_at.timestamp() if site.last_finished_at else 0,
                "sort_next": site.next_run_at.timestamp() if site.next_run_at else float("inf"),
            }
        )
    key, descending = SORTS.get(sort, SORTS["name"])
    result.sort(key=lambda r: r[key], reverse=descending)
    return result


def site_ids(user: Any) -> frozenset[int]:
    return frozenset(
        Site.objects.filter(account__memberships__user=user).values_list("pk", flat=True)
    )


def state(user_id: int) -> tuple:
    """What the overview shows changes when any of these does, read in one query: each site's
    latest run and its version, and the articles waiting for review."""
    fields = latest_run_fields()
    return tuple(
        Site.objects.filter(account__memberships__user_id=user_id)
        .annotate(
            run_pk=fields["run_pk"],
            run_version=fields["run_version"],
            review=Count("content", filter=Q(content__status=ContentStatus.REVIEW)),
        )
        .order_by("id")
        .values_list("id", "run_pk", "run_version", "review")
    )
