"""The Automation page's live region as fragments: each is one partial of
`automation/live.html`, fills one slot of the page (`sse-swap="<name>"`) and travels as the
stream's event of the same name, sent to a viewer only when its rendering changed since the
viewer's previous event (htmx's SSE extension swaps it in; nothing else runs in the browser)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string

from cascade.automation.templatetags.cascade_tags import LEADING_SPACE

TEMPLATE = "automation/live.html"
# The fragments in the order a state's events are sent (each stage card's, "stage-N", after
# estimate): the run's own parts first (the whole-run bar replaces Run Now's starting state),
# and the controls last, so a button changes once the effect of its click is on the page.
BEFORE_CARDS = ("state", "bar", "current", "processing", "estimate", "stages-head")
AFTER_CARDS = ("events", "failures", "history", "cancel", "credits", "notices", "controls")


@dataclass(frozen=True, eq=False)
class Fragments:
    parts: dict[str, str]  # event name -> the slot's markup
    shown: tuple[str, int] | None  # the (run id, version) they show; None before any run


def render(context: dict[str, Any]) -> Fragments:
    """Every fragment of the live region for this context (`page.live_context`)."""

    def one(partial: str, extra: dict[str, Any] | None = None) -> str:
        html = render_to_string(f"{TEMPLATE}#{partial}", context | (extra or {}))
        return LEADING_SPACE.sub("\n", html).strip()

    parts = {name: one(name) for name in BEFORE_CARDS}
    for card in context["stage_cards"]:
        parts[f"stage-{card.number}"] = one("stage", {"s": card})
    parts.update((name, one(name)) for name in AFTER_CARDS)
    board = context["snapshot"]
    shown = (board.run.run_id, board.version) if board else None
    return Fragments(parts, shown)


def changed(new: Fragments, old: Fragments | None) -> Iterable[tuple[str, str]]:
    """The (event, markup) pairs that bring a viewer who has `old` (None: nothing yet, a new
    or reconnecting viewer) to `new`."""
    for name, markup in new.parts.items():
        if old is None or old.parts.get(name) != markup:
            yield name, markup
