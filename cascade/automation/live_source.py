"""What the live views learn from the pipeline (`live.hub.Source`): the news of every commit
that changes a run, and the reading of sites' states.

- a commit in this process (the embedded worker, an action view) tells the hub at once, with
  the run's new version (`signals.progress_changed`); a top-up refreshes the account's sites;
- on PostgreSQL every commit also sends NOTIFY (`cascade_progress`), which a listener thread of
  each server process passes on, so changes made by other processes arrive at once too; with
  Celery, Redis carries the same news.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from cascade.accounts.models import Site
from cascade.accounts.signals import credits_added
from cascade.automation import signals
from cascade.automation.latest import latest_run_fields
from cascade.automation.statuses import ACTIVE
from cascade.live.hub import Hub, Source


def site_states(site_ids: list[int], run_id: str | None = None) -> dict[int, tuple]:
    """In one query, each site's latest run (or the run `run_id`): {site: (run id, version,
    status)}."""
    fields = latest_run_fields(run_id)
    rows = (
        Site.objects.filter(pk__in=site_ids)
        .annotate(
            run_pk=fields["run_pk"],
            run_version=fields["run_version"],
            run_status=fields["run_status"],
        )
        .values_list("pk", "run_pk", "run_version", "run_status")
    )
    return {
        pk: (str(run) if run else None, version or 0, status) for pk, run, version, status in rows
    }


def _account_sites(account_id: int) -> frozenset[int]:
    return frozenset(Site.objects.filter(account_id=account_id).values_list("pk", flat=True))


def message_for(hub: Hub, text: str) -> None:
    """A message from another process: "site:run:version" or "account:ID" (any thread)."""
    kind, _, rest = text.partition(":")
    if kind == "account":
        hub.refresh(_account_sites(int(rest)))
        return
    run_id, _, version = rest.partition(":")
    try:
        site_id, number = int(kind), int(version)
    except ValueError:
        return
    hub.changed(site_id, run_id, number)


def connect(hub: Hub) -> None:
    from cascade.automation import executor

    def on_progress(sender: Any, run_id: str, site_id: int, version: int, **kwargs: Any) -> None:
        hub.changed(site_id, run_id, version)

    def on_top_up(sender: Any, account_id: int, **kwargs: Any) -> None:
        hub.refresh(_account_sites(account_id))

    def on_message(text: str) -> None:
        message_for(hub, text)

    signals.progress_changed.connect(on_progress, weak=False)
    credits_added.connect(on_top_up, weak=False)
    if executor.uses_celery():
        executor.listen(on_message)  # commits made by Celery workers
    if connection.vendor == "postgresql":
        signals.listen_postgres(on_message)


SOURCE = Source(connect=connect, states=site_states, active=frozenset(ACTIVE))
