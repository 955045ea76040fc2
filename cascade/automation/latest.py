"""A site's latest run: looked up inside a query of sites (the page's watchers and the Sites
overview share it), and for `run_progress` with the caller's right to see it, in SQL."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.db.models import OuterRef, Subquery

from cascade.accounts.models import Membership, Site
from cascade.automation.models import AutomationRun


def latest_run_fields(run_id: Any = None) -> dict[str, Subquery]:
    """Annotations of a Site queryset with its latest run (or the run `run_id`): `run_pk`,
    `run_version`, `run_status`. Each is one correlated lookup on (site, created_at)."""
    runs = AutomationRun.objects.filter(site_id=OuterRef("pk"))
    if run_id:
        runs = runs.filter(pk=run_id)
    latest = runs.order_by("-created_at")
    return {f"run_{f}": Subquery(latest.values(f)[:1]) for f in ("pk", "version", "status")}


def visible_run(user_id: int, site_id: int, run_id: Any = None) -> tuple[Any, int] | None:
    """In one query: whether the user's accounts own the site (None when not), and its latest
    run (or the run `run_id`) with its version: (None, 0) when it has none. Written in SQL:
    it serves every `run_progress` call, and building it with the ORM cost 30 times the query."""
    pk = AutomationRun._meta.pk
    assert pk is not None
    params: list[Any] = [site_id, user_id]
    if run_id:
        params.insert(0, pk.get_db_prep_value(pk.to_python(run_id), connection))
    with connection.cursor() as cursor:
        cursor.execute(_visible_run_sql(bool(run_id)), params)
        row = cursor.fetchone()
    if row is None:
        return None
    return (pk.to_python(row[0]), row[1]) if row[0] is not None else (None, 0)


@functools.cache
def _visible_run_sql(of_one_run: bool) -> str:
    q = connection.ops.quote_name
    run, site = q(AutomationRun._meta.db_table), q(Site._meta.db_table)
    membership = q(Membership._meta.db_table)
    only = " AND latest.id = %s" if of_one_run else ""
    return (
        f"SELECT run.id, run.version FROM {site} site LEFT JOIN {run} run ON run.id = ("
        f"SELECT latest.id FROM {run} latest WHERE latest.site_id = site.id{only} "
        "ORDER BY latest.created_at DESC LIMIT 1) "
        f"WHERE site.id = %s AND EXISTS (SELECT 1 FROM {membership} member "
        "WHERE member.account_id = site.account_id AND member.user_id = %s)"
    )
