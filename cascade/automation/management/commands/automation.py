from __future__ import annotations

import json
import logging
import sys
import time

from django.conf import settings
from django.core.management.base import CommandError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cascade.accounts.models import Site
from cascade.automation import engine, progress, schedules
from cascade.automation.management.terminal import RunBars, run_note
from cascade.automation.models import AutomationRun, Schedule
from cascade.automation.snapshot import Snapshot
from cascade.automation.statuses import ACTIVE, FINISHED, RunOutcome, StageStatus, display_status
from cascade.automation.wording import (
    elapsed,
    headline,
    items,
    shows_percentage,
    what_items_are,
)
from cascade.automation.worker import EmbeddedWorker, workers_alive
from cascade.lib.commands import Command as CascadeCommand

log = logging.getLogger("cascade")


class Command(CascadeCommand):
    help = "Run and steer the automation pipeline of a site."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="start a run (Run Now)")
        run.add_argument("--site", type=int, required=True)
        run.add_argument(
            "--wait", action="store_true", help="show live progress until the run ends"
        )
        run.add_argument(
            "--attach",
            action="store_true",
            help="follow the site's active run until it ends (starting one if none is active)",
        )
        status = sub.add_parser("status", help="the latest run's snapshot")
        status.add_argument("--site", type=int, required=True)
        status.add_argument("--json", action="store_true")
        for action in ("pause", "resume", "cancel", "retry"):
            p = sub.add_parser(
                action,
                help=f"{action} the site's {'latest' if action == 'retry' else 'active'} run",
            )
            p.add_argument("--site", type=int, required=True)
        schedule = sub.add_parser(
            "schedule",
            help="show, set or turn off the site's schedule (runs that start by themselves)",
        )
        schedule.add_argument("--site", type=int, required=True)
        schedule.add_argument("--cron", help="five fields, e.g. '0 6 * * 1-5' (06:00 on weekdays)")
        schedule.add_argument("--timezone", default=None, help="e.g. Europe/Berlin (default UTC)")
        schedule.add_argument("--off", action="store_true", help="stop starting runs by schedule")
        schedule.add_argument(
            "--no-catch-up",
            action="store_true",
            help="record a start missed while no process was up instead of starting it late",
        )

    def handle(self, action, site, **options):
        # A terminal shows what the command says, not the engine's log (warnings still show).
        logging.getLogger("cascade").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
        target = Site.objects.filter(pk=site).first()
        if target is None:
            raise CommandError(f"Site {site} does not exist.")
        try:
            if action == "run":
                return self.run(target, options["wait"], options["attach"])
            if action == "status":
                return self.status(target, options["json"])
            if action == "schedule":
                return self.schedule(target, options)
            if action == "retry":
                run = progress.latest_run(target.pk)
                if run is None:
                    raise CommandError("This site has no runs yet.")
                new = engine.retry_failed(run.pk)
                self.stdout.write(
                    f"Retry run {new.run_id} queued for the failed items of {run.run_id}."
                )
                return
            run = AutomationRun.objects.filter(site=target, status__in=ACTIVE).first()
            if run is None:
                raise CommandError("This site has no active run.")
            run = {
                "pause": engine.pause_run,
                "resume": engine.resume_run,
                "cancel": engine.cancel_run,
            }[action](run.pk)
            self.stdout.write(f"Run {run.run_id}: {progress.read(run).run.status_text}")
        except engine.EngineRefusal as exc:
            raise CommandError(exc.detail) from None

    def schedule(self, site: Site, options: dict) -> None:
        current = Schedule.objects.filter(site=site).first()
        if options["cron"] or options["off"] or options["timezone"]:
            cron = options["cron"] or (current.cron if current else "")
            if not cron:
                raise CommandError("Give the schedule with --cron, e.g. --cron '0 6 * * 1-5'.")
            try:
                current = schedules.save(
                    site,
                    cron=cron,
                    tz_name=options["timezone"] or (current.timezone if current else "UTC"),
                    enabled=not options["off"],
                    catch_up=not options["no_catch_up"],
                )
            except schedules.BadSchedule as exc:
                raise CommandError(str(exc)) from None
        shown = schedules.describe(current)
        if not shown["cron"]:
            self.stdout.write(f"Site {site.pk} has no schedule.")
            return
        state = "on" if shown["enabled"] else "off"
        self.stdout.write(
            f"Schedule of site {site.pk}: {shown['cron']} ({shown['timezone']}), {state}."
        )
        if shown["next_scheduled_at"]:
            local = shown["next_scheduled_at"].astimezone(schedules.zone(shown["timezone"]))
            self.stdout.write(f"Next run: {local:%a %d %b %Y %H:%M} ({shown['timezone']}).")
        if shown["last_result"]:
            self.stdout.write(shown["last_result"])

    def run(self, site: Site, wait: bool, attach: bool = False) -> None:
        active = AutomationRun.objects.filter(site=site, status__in=ACTIVE).first()
        if active is not None and attach:
            run = active
            self.stdout.write(f"Following run {run.run_id} of site {site.pk} ({site.name}).")
        else:
            try:
                run = engine.start_run(site)
            except engine.RunAlreadyActive:
                raise CommandError(self._busy(site)) from None
            self.stdout.write(f"Run {run.run_id} queued for site {site.pk} ({site.name}).")
        if not (wait or attach):
            if not workers_alive():
                where = (
                    "`cascade worker`"
                    if settings.CASCADE_EXECUTOR == "celery"
                    else "`cascade serve`"
                )
                self.stdout.write(f"No worker is running: start {where} to process it.")
            return
        worker = None
        if not workers_alive():
            # Nothing else would process the run: this command does, with the same engine.
            worker = EmbeddedWorker(settings.CASCADE_WORKER_THREADS)
            worker.start()
        try:
            final = self.watch(run)
        except KeyboardInterrupt:
            self.stdout.write(
                "\nStopped watching; the run goes on. `cascade automation pause --site "
                f"{site.pk}` pauses it."
            )
            sys.exit(130)
        finally:
            if worker is not None:
                worker.stop()
        g, metrics = final.global_progress, final.metrics
        self.stdout.write(
            f"{final.run.status_text}: {items(g.completed_items)} done, "
            f"{g.failed_items:,} failed, {items(metrics.credits_used, 'credit', 'credits')}, "
            f"{elapsed(metrics.duration_seconds or 0)}."
        )
        # Only a run whose work all succeeded exits 0 (scripts and schedulers rely on it).
        if final.run.outcome != RunOutcome.SUCCEEDED:
            sys.exit(1)

    def _busy(self, site: Site) -> str:
        """Run Now refused because a run is active: which one, where it is, and what to do."""
        snapshot = progress.latest(site.pk)
        if snapshot is None:  # (it ended meanwhile)
            return "A run was active for this site a moment ago: try again."
        run, g = snapshot.run, snapshot.global_progress
        return (
            f"Run {run.run_id} is already active for site {site.pk} ({run.status_text}, "
            f"{g.percentage} %). Follow it with `cascade automation run --site {site.pk} "
            f"--attach`, or stop it with `cascade automation pause|cancel --site {site.pk}`."
        )

    def watch(self, run: AutomationRun) -> Snapshot:
        console = Console(file=getattr(self.stdout, "_out", sys.stdout))
        console.print(Text(what_items_are(), style="dim"))
        with RunBars(console) as bars:
            seen = -1
            while True:
                run.refresh_from_db()
                snapshot = progress.read(run)
                if snapshot.version != seen or run.status not in FINISHED:
                    seen = snapshot.version
                    bars.show(snapshot)
                if run.status in FINISHED:
                    return snapshot
                time.sleep(0.4)

    def status(self, site: Site, as_json: bool) -> None:
        snapshot = progress.latest(site.pk)
        if as_json:
            doc = snapshot.model_dump(mode="json") if snapshot else None
            self.stdout.write(json.dumps(doc, indent=2))
            return
        if snapshot is None:
            self.stdout.write("No runs yet for this site.")
            return
        console = Console(file=getattr(self.stdout, "_out", sys.stdout))
        run = snapshot.run
        console.print(Text(f"Run {run.run_id}: {run.status_text}"))
        lead = f"{headline(snapshot)} · " if shows_percentage(snapshot) else ""
        console.print(Text(lead + run_note(snapshot, status=False)))
        # Seven narrow columns fit 80 with the longest stage name and six-figure counts (each
        # stage's credits are in `--json`). A stage not reached yet shows what it is expected
        # to get (≈), as the page does.
        table = Table("Stage", "Status", box=None, pad_edge=False)
        for heading in ("Total", "Done", "Failed", "Left", "Made"):
            table.add_column(heading, justify="right")
        for s in snapshot.stages:
            shown = display_status(s, run.status)
            forecast = "≈" if s.total_is_estimate else ""
            pending = s.status == StageStatus.PENDING
            total = f"{forecast}{s.expected_total:,}" if pending else f"{s.input_count:,}"
            table.add_row(
                f"{s.number} {s.name}",
                shown.label,
                total,
                f"{s.processed_count:,}",
                f"{s.failed_count:,}",
                total if pending else f"{s.remaining_count:,}",
                f"{s.output_count:,}",
            )
        console.print(table)
        console.print(Text(what_items_are(), style="dim"))
