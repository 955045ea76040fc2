"""Runs on a schedule (contract §11): a due time starts exactly one run whatever the number of
worker processes, a start while a run is active is recorded as skipped, and a start missed
while no process was up happens once when one comes back (or is recorded as missed)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from croniter import croniter
from django.test import Client
from django.utils import timezone

from cascade.automation import engine, schedules
from cascade.automation.models import AutomationRun, Schedule
from cascade.automation.statuses import Trigger
from cascade.planner.importing import import_rows
from tests.conftest import CELERY, CeleryWorkers, wait_for, wait_until_finished
from tests.servers import Server, cascade

pytestmark = pytest.mark.django_db(transaction=True)
WEEKDAYS = "0 6 * * 1-5"


def put(client: Client, site, body: dict):
    return client.put(
        f"/api/v1/automation/schedule/?site_id={site.pk}", body, content_type="application/json"
    )


def test_a_schedule_is_set_shown_and_checked(api, site, carol):
    response = put(api, site, {"cron": WEEKDAYS, "timezone": "Europe/Berlin"})
    assert response.status_code == 200, response.content
    body = response.json()
    start = timezone.now().astimezone(schedules.zone("Europe/Berlin"))
    expected = croniter(WEEKDAYS, start).get_next(type(start))
    assert body["enabled"] and body["cron"] == WEEKDAYS
    assert body["next_scheduled_at"].startswith(expected.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))
    overview = api.get(f"/api/v1/automation/pipeline_overview/?site_id={site.pk}").json()
    assert overview["next_scheduled_at"] == body["next_scheduled_at"]

    for bad, field in (
        ({"cron": "every morning"}, "cron"),
        ({"cron": "0 25 * * *"}, "cron"),
        ({"cron": "0 0 30 2 *"}, "cron"),  # valid, but the 30th of February never comes
        ({"cron": WEEKDAYS, "timezone": "Mars/Olympus"}, "timezone"),
    ):
        refused = put(api, site, bad)
        assert refused.status_code == 422 and refused.json()["detail"].startswith(field), bad
    assert Schedule.objects.get(site=site).cron == WEEKDAYS, "a refused change changes nothing"
    for written in ("00 06 * * Mon-Fri", "0  6 * * 1-5", "*/15 8-18 * Jan,JUL sat"):
        accepted = put(api, site, {"cron": written})
        assert accepted.status_code == 200, (written, accepted.content)

    viewer = Client()
    viewer.force_login(carol)  # a viewer reads the schedule but may not change it
    assert viewer.get(f"/api/v1/automation/schedule/?site_id={site.pk}").status_code == 200
    assert put(viewer, site, {"cron": "0 7 * * *"}).status_code == 403

    off = put(api, site, {"cron": WEEKDAYS, "enabled": False}).json()
    assert off["next_scheduled_at"] is None


def test_the_page_and_the_cli_show_the_next_run(site, alice):
    client = Client()
    client.force_login(alice)
    unset = client.get(f"/sites/{site.pk}/settings/").content.decode()
    # no schedule yet: its box is not ticked (a ticked box beside an empty expression said
    # runs start by themselves while none would)
    assert re.search(r'<input type="checkbox" name="enabled" >', unset), "ticked with no schedule"
    empty = client.post(f"/sites/{site.pk}/settings/schedule/", {"cron": "", "enabled": "on"})
    assert "A schedule needs a cron expression of five fields" in empty.content.decode()
    schedules.save(site, cron=WEEKDAYS, tz_name="Europe/Berlin", enabled=True, catch_up=True)
    client = Client()
    client.force_login(alice)
    page = client.get(f"/sites/{site.pk}/automation/").content.decode()
    assert 'data-testid="next-scheduled"' in page and "(Europe/Berlin)" in page
    settings_page = client.get(f"/sites/{site.pk}/settings/").content.decode()
    assert 'data-testid="schedule-next"' in settings_page
    saved = client.post(
        f"/sites/{site.pk}/settings/schedule/",
        {"cron": "30 5 * * *", "timezone": "UTC", "enabled": "on", "catch_up": "on"},
    )
    assert saved.status_code == 302 and Schedule.objects.get(site=site).cron == "30 5 * * *"
    # A refused form keeps what was typed and marks every field that is wrong.
    wrong = {"cron": "every monday at 6", "timezone": "Mars/Olympus", "enabled": "on"}
    refused_page = client.post(f"/sites/{site.pk}/settings/schedule/", wrong)
    assert refused_page.status_code == 422
    html = refused_page.content.decode()
    assert 'data-testid="error-cron">' in html and "not a cron expression" in html
    assert 'data-testid="error-timezone">Unknown time zone &#x27;Mars/Olympus&#x27;' in html
    assert 'value="every monday at 6"' in html and 'value="Mars/Olympus"' in html
    assert Schedule.objects.get(site=site).cron == "30 5 * * *", "a refused form changes nothing"
    assert 'data-testid="schedule-next"' not in html  # (the saved schedule's, in another zone)
    # The page's other form still posts to its own address, not to the schedule's.
    assert (
        f'action="/sites/{site.pk}/settings/" class="settings" data-testid="settings-form"' in html
    )
    blank_zone = {"cron": "", "timezone": "", "enabled": "on"}
    assert client.post(f"/sites/{site.pk}/settings/schedule/", blank_zone).status_code == 422
    out = cascade("automation", "schedule", "--site", str(site.pk)).stdout
    assert "30 5 * * * (UTC), on." in out and "Next run:" in out
    refused = cascade(
        "automation", "schedule", "--site", str(site.pk), "--cron", "61 * * * *", check=False
    )
    assert refused.returncode != 0 and "cron:" in refused.stderr


def test_a_due_time_starts_one_run_and_a_busy_site_skips(site):
    schedule = schedules.save(site, cron="0 * * * *", tz_name="UTC", enabled=True, catch_up=True)
    due = timezone.now() - timedelta(seconds=5)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=due)
    assert schedules.start_due() == 1
    assert schedules.start_due() == 0, "the due time was taken: nobody starts it again"
    run = AutomationRun.objects.get(site=site)
    assert run.trigger == Trigger.SCHEDULED
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
    assert schedules.start_due() == 0
    assert AutomationRun.objects.filter(site=site).count() == 1
    assert Schedule.objects.get(pk=schedule.pk).last_result.startswith("Skipped the start due")
    engine.cancel_run(run.pk)


def test_a_late_start_is_recorded_as_missed_when_the_schedule_does_not_catch_up(site):
    schedule = schedules.save(site, cron="0 * * * *", tz_name="UTC", enabled=True, catch_up=False)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - timedelta(hours=2))
    assert schedules.start_due() == 0
    assert not AutomationRun.objects.filter(site=site).exists()
    schedule.refresh_from_db()
    assert schedule.last_result.startswith("Missed the start due")
    assert schedule.next_run_at > timezone.now()


class Processes:
    """Three processes that work on runs: `cascade serve` with its embedded worker, or Celery
    workers in the Celery set-up."""

    def __init__(self, log_dir, count: int = 3) -> None:
        if CELERY:
            self.workers = CeleryWorkers(count, log_dir)
        else:
            self.servers = [Server(log=log_dir / f"serve-{i}.log").start() for i in range(count)]

    def stop(self) -> None:
        if CELERY:
            self.workers.stop()
        else:
            for server in self.servers:
                server.stop()


@pytest.mark.slow
def test_three_processes_start_one_run_per_due_time_and_a_missed_one_once(site, tmp_path):
    schedule = schedules.save(site, cron="0 3 * * *", tz_name="UTC", enabled=True, catch_up=True)
    processes = Processes(tmp_path)
    try:
        Schedule.objects.filter(pk=schedule.pk).update(
            next_run_at=timezone.now() + timedelta(seconds=1)
        )
        run = wait_for(
            lambda: AutomationRun.objects.filter(site=site, trigger=Trigger.SCHEDULED).first(),
            30,
            0.2,
            "the scheduled run",
        )
        wait_until_finished(run, timeout=180)
        assert AutomationRun.objects.filter(site=site).count() == 1
        assert Schedule.objects.get(pk=schedule.pk).next_run_at > timezone.now()
    finally:
        processes.stop()

    # Down at the due time: the start is made once when a process is back.
    import_rows(site, [{"keyword": f"after the outage {n}"} for n in range(5)])
    Schedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() - timedelta(minutes=2)
    )
    processes = Processes(tmp_path)
    try:
        wait_for(
            lambda: AutomationRun.objects.filter(site=site).count() == 2, 30, 0.2, "the late run"
        )
        late = AutomationRun.objects.filter(site=site).order_by("-created_at").first()
        wait_until_finished(late, timeout=180)
        assert late.trigger == Trigger.SCHEDULED
        assert AutomationRun.objects.filter(site=site).count() == 2
    finally:
        processes.stop()
