"""A run on a terminal (`cascade automation run --wait`, `--attach`, `status`): the whole-run
bar with the run's figure (its percentage, or what it did once it ended otherwise), the current
stage's bar with its items, and a line of words under them. Every number is the snapshot's."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Column
from rich.text import Text

from cascade.automation.board import card
from cascade.automation.snapshot import Snapshot
from cascade.automation.statuses import RunOutcome
from cascade.automation.wording import headline, items_done

# A run that ended otherwise than all succeeded draws its bar in the page's colours for it.
TONES = {RunOutcome.PARTIAL: "yellow", RunOutcome.FAILED: "red", RunOutcome.CANCELLED: "red"}


class ToneBar(BarColumn):
    """A bar drawn in its task's `tone` when it has one."""

    def render(self, task: Any) -> Any:
        bar = super().render(task)
        if tone := task.fields.get("tone"):
            bar.complete_style = bar.finished_style = tone
        return bar


class RunBars(Progress):
    """The bars, then a line of words under them that wraps instead of squeezing the bars."""

    note = ""

    def __init__(self, console: Console) -> None:
        super().__init__(
            TextColumn("{task.description}", table_column=Column(width=22, no_wrap=True)),
            ToneBar(bar_width=None, table_column=Column(min_width=10, ratio=1)),
            TextColumn("{task.fields[figure]}", table_column=Column(no_wrap=True)),
            console=console,
            refresh_per_second=8,
        )
        self.whole = self.add_task("Whole run", total=100, figure="0 %", tone=None)
        self.stage = self.add_task("Starting…", total=1, figure="", tone=None)

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        if self.note:
            yield Text(self.note, overflow="fold")

    def show(self, snapshot: Snapshot) -> None:
        g, run = snapshot.global_progress, snapshot.run
        tone = TONES.get(run.outcome) if run.outcome else None
        self.update(self.whole, completed=g.percentage, figure=headline(snapshot), tone=tone)
        self.note = run_note(snapshot)
        current = next((s for s in snapshot.stages if s.number == run.current_stage), None)
        if current:
            # As the page's stage card: with failures, the figure is what was done.
            shown = card(current, run.status)
            settled = current.processed_count + current.failed_count
            figure = f"{current.progress_percentage} %"
            if current.failed_count:
                figure = f"{shown.done_fill} % done, {current.failed_count:,} failed"
            self.update(
                self.stage,
                description=f"{current.number}/{len(snapshot.stages)} {current.name}",
                total=max(1, current.input_count),
                completed=settled,
                figure=f"{figure} · {settled:,}/{current.input_count:,}",
                tone="red" if current.failed_count and not current.processed_count else None,
            )


def run_note(snapshot: Snapshot, status: bool = True) -> str:
    """What the bars do not show: items, time left (while there is any), credits, the status."""
    g, run = snapshot.global_progress, snapshot.run
    parts = [items_done(g)]
    if not run.is_finished:
        parts.append(f"{g.estimated_remaining_time or 'estimating time'} left")
    parts.append(f"{snapshot.metrics.credits_used:,} credits")
    if status:
        parts.append(run.status_text)
    return " · ".join(parts)
