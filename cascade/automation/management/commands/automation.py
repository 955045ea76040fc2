from __future__ import annotations

import json
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from cascade.accounts.models import Site
from cascade.automation import engine, progress, schedules
from cascade.automation.models import AutomationRun, Schedule
from cascade.automation.statuses import ACTIVE, FINISHED, RunOutcome
from cascade.automation.worker import EmbeddedWorker, workers_alive


class Command(BaseCommand):
    help = "Run and steer the automation pipeline of a site."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="start a run (Run Now)")
        run.add_argument("--site", type=int, required=True)
        run.add_argument(
            "--wait", action="store_true", help="show live progress until the run ends"
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
        target = Site.objects.filter(pk=site).first()
        if target is None:
            raise CommandError(f"Site {site} does not exist.")
        try:
            if action == "run":
                return self.run(target, options["wait"])
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
            snapshot = progress.build_snapshot(run)
            self.stdout.write(f"Run {run.run_id}: {snapshot['run']['status_text']}")
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

    def run(self, site: Site, wait: bool) -> None:
        run = engine.start_run(site)
        self.stdout.write(f"Run {run.run_id} queued for site {site.pk} ({site.name}).")
        if not wait:
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
        g, run_doc, metrics = final["global_progress"], final["run"], final["metrics"]
        self.stdout.write(
            f"Run {run_doc['status']}: {run_doc['status_text']}. {g['completed_items']:,} items "
            f"done, {g['failed_items']:,} failed, {metrics['credits_used']:,} credits, "
            f"{metrics['duration_seconds']:,} s."
        )
        # Only a run whose work all succeeded exits 0 (scripts and schedulers rely on it).
        if run_doc["outcome"] != RunOutcome.SUCCEEDED:
            sys.exit(1)

    def watch(self, run: AutomationRun) -> dict:
        console = Console(file=getattr(self.stdout, "_out", sys.stdout))
        columns = (
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=None),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
        )
        with Progress(*columns, console=console, refresh_per_second=8, transient=False) as bars:
            whole = bars.add_task("Whole run", total=100, note="")
            stage_bar = bars.add_task("Starting…", total=1, note="")
            seen = -1
            while True:
                run.refresh_from_db()
                snapshot = progress.build_snapshot(run)
                if snapshot["version"] != seen or run.status not in FINISHED:
                    seen = snapshot["version"]
                    g = snapshot["global_progress"]
                    approx = "≈" if g["total_is_estimate"] else ""
                    bars.update(
                        whole,
                        completed=g["percentage"],
                        note=f"{g['completed_items']}/{approx}{g['total_items']} items · "
                        f"{g['estimated_remaining_time'] or '…'} left · "
                        f"{snapshot['metrics']['credits_used']} credits · {snapshot['run']['status_text']}",
                    )
                    stage = next(
                        (
                            s
                            for s in snapshot["stages"]
                            if s["number"] == snapshot["run"]["current_stage"]
                        ),
                        None,
                    )
                    if stage:
                        bars.update(
                            stage_bar,
                            description=f"Stage {stage['number']}/{len(snapshot['stages'])} "
                            f"{stage['name']}",
                            total=max(1, stage["input_count"]),
                            completed=stage["processed_count"] + stage["failed_count"],
                            note=f"{stage['output_count']} {stage['output_label']}",
                        )
                if run.status in FINISHED:
                    return snapshot
                time.sleep(0.4)

    def status(self, site: Site, as_json: bool) -> None:
        snapshot = progress.snapshot_for(site.pk)
        if as_json:
            self.stdout.write(json.dumps(snapshot, indent=2))
            return
        if snapshot is None:
            self.stdout.write("No runs yet for this site.")
            return
        g = snapshot["global_progress"]
        console = Console(file=getattr(self.stdout, "_out", sys.stdout))
        console.print(
            f"Run {snapshot['run']['run_id']} · {snapshot['run']['status_text']} · {g['percentage']} % · "
            f"{g['completed_items']}/{'≈' if g['total_is_estimate'] else ''}{g['total_items']} items · "
            f"{snapshot['metrics']['credits_used']} credits"
        )
        table = Table(
            "#", "Stage", "Status", "Total", "Processed", "Failed", "Remaining", "Output", "Credits"
        )
        for s in snapshot["stages"]:
            table.add_row(
                str(s["number"]),
                s["name"],
                s["status"],
                str(s["input_count"]),
                str(s["processed_count"]),
                str(s["failed_count"]),
                str(s["remaining_count"]),
                f"{s['output_count']} {s['output_label']}",
                str(s["credits_used"]),
            )
        console.print(table)
