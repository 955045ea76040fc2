"""Items that were in flight when their worker's process stopped (suspects), and how they are
tried again so that only an item that itself stops workers is failed for it:

- A stop counts against every item the stopped process had in flight: which of them did it is
  not known.
- A stage's suspects are claimed after its other items, only when nothing else of the stage is
  in flight and the claiming process holds no other claim; while a process holds a suspect
  claim it claims nothing else, of any run. If it stops again, the stop is theirs alone.
- A batch stage's suspects go together, in a batch halved at each stop down to one item (an
  item of a crashed batch of 100 is not tried alone, at ten times its credits).
- An item fails as poison once it has stopped CASCADE_MAX_ATTEMPTS workers, the last time
  alone in its process.

The process's own claims are kept here (`took`, `let_go`); a claim taken and never worked on
(as tests do) is noticed by its items' state."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Exists

from cascade.automation.models import AutomationRun, RunItem
from cascade.automation.statuses import ItemState

turn = threading.Lock()  # one claim at a time in a process (each is one short transaction)
_in_hand: set[str] = set()  # the claims this process holds
_solo: str | None = None  # this process's suspect claim: nothing else is claimed meanwhile


def _held(tokens: Iterable[str]) -> set[str]:
    tokens = list(tokens)
    if not tokens:
        return set()
    rows = RunItem.objects.filter(claim_token__in=tokens, state=ItemState.PROCESSING)
    return set(rows.values_list("claim_token", flat=True).distinct())


def solo_in_flight() -> bool:
    """Whether this process works on a suspect claim now (call with `turn` held)."""
    global _solo
    if _solo is not None and not _held([_solo]):
        _solo = None
    return _solo is not None


def _stage(run_id: Any, stage: int, now: datetime) -> tuple[Any, Any]:
    """The stage's items and those ready to claim, none while a suspect is in flight (then
    nothing else of the stage is claimed): one rule for claiming and for counting claims, in
    the query that reads them."""
    in_stage = RunItem.objects.filter(run_id=run_id, stage=stage)
    suspect_in_flight = in_stage.filter(state=ItemState.PROCESSING, worker_stops__gt=0)
    ready = in_stage.filter(state=ItemState.QUEUED).exclude(not_before__gt=now)
    return in_stage, ready.exclude(Exists(suspect_in_flight))


def next_items(
    run: AutomationRun, stage: int, now: datetime, batch: int
) -> tuple[list[RunItem], bool]:
    """The items to claim next, locked (the run row is locked, `turn` is held), and whether
    they are suspects."""
    global _in_hand
    in_stage, ready = _stage(run.pk, stage, now)
    queued = ready.select_for_update(skip_locked=True)
    # Items not tried yet go first: a retried item waits behind them, so a run keeps moving
    # and an item is only failed once the provider has answered others.
    fresh = queued.filter(worker_stops=0).order_by("attempts", "position")
    items = list(fresh[:batch])
    if items:
        return items, False
    _in_hand = _held(_in_hand)
    if _in_hand or in_stage.filter(state=ItemState.PROCESSING).exists():
        return [], False
    worst_first = queued.order_by("-worker_stops", "attempts", "position")
    stops = worst_first.values_list("worker_stops", flat=True).first()
    if stops is None:
        return [], False
    size = max(1, batch >> stops)
    return list(worst_first[:size]), True


def took(token: str, suspect: bool) -> None:
    """This process holds the claim `token` now (call with `turn` held)."""
    global _solo
    _in_hand.add(token)
    if suspect:
        _solo = token


def let_go(token: str) -> None:
    """The claim is over in this process (worked on, released or given up)."""
    global _solo
    with turn:
        _in_hand.discard(token)
        if _solo == token:
            _solo = None


def claimable(run_id: Any, stage: int, batch: int, now: datetime) -> int:
    """How many claims of the stage could be taken now, by the rules above."""
    in_stage, ready = _stage(run_id, stage, now)
    fresh = ready.filter(worker_stops=0).count()
    if fresh:
        return -(-fresh // batch)
    return int(ready.exists() and not in_stage.filter(state=ItemState.PROCESSING).exists())


def alone(tokens: Iterable[str]) -> set[str]:
    """Of these claims of stopped processes, those whose process had nothing else in flight:
    one item in all (before any of them is taken back)."""
    rows = RunItem.objects.filter(claim_token__in=list(tokens), state=ItemState.PROCESSING)
    process = {
        token: worker.rsplit(":", 1)[0]
        for token, worker in rows.values_list("claim_token", "worker")
    }
    counts: Counter[str] = Counter()
    for prefix in set(process.values()):
        busy = RunItem.objects.filter(state=ItemState.PROCESSING, worker__startswith=prefix + ":")
        counts[prefix] = busy.count()
    return {token for token, prefix in process.items() if counts[prefix] == 1}
