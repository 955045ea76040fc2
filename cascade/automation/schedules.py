"""Runs on a schedule (contract §11): a cron expression in a time zone per site. Every worker
process (the embedded worker of `cascade serve`, every Celery worker) calls `start_due()` a few
times a minute; a due time is claimed by a conditional update of `next_run_at`, so however many
processes are up, it starts at most one run, and a start while a run is active is recorded as
skipped, never doubled."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter
from django.conf import settings
from django.utils import timezone

from cascade.accounts.models import Site
from cascade.automation import engine
from cascade.automation.models import Schedule
from cascade.automation.statuses import Trigger

log = logging.getLogger("cascade.schedules")


class BadSchedule(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.reason = field, message


# The time zones a schedule may name (the API schema's enum): the tz database's.
ZONES = sorted(available_timezones() | {"UTC"})


def zone(name: str) -> ZoneInfo:
    if name not in ZONES:
        raise BadSchedule("timezone", f"unknown time zone {name!r} (e.g. Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadSchedule("timezone", f"unknown time zone {name!r} (e.g. Europe/Berlin)") from None


def _names(words: str) -> str:
    names = words.split()
    return "|".join([*names, *(n.upper() for n in names), *(n.title() for n in names)])


def _cron_field(value: str) -> str:
    item = rf"(\*|({value})(-({value}))?)(/[1-9][0-9]?)?"
    return rf"{item}(,{item})*"


# The API schema's statement of a cron expression: five fields of numbers (or month and day
# names), ranges, lists and steps, spaces between. The server checks it too, then asks
# croniter whether the expression ever names a time.
CRON_PATTERN = (
    "^[ \t]*"
    + "[ \t]+".join(
        _cron_field(value)
        for value in (
            "[0-5]?[0-9]",
            "[01]?[0-9]|2[0-3]",
            "0?[1-9]|[12][0-9]|3[01]",
            "0?[1-9]|1[0-2]|" + _names("jan feb mar apr may jun jul aug sep oct nov dec"),
            "0?[0-7]|" + _names("sun mon tue wed thu fri sat"),
        )
    )
    + "[ \t]*$"
)


def check_cron(cron: str) -> str:
    cron = " ".join(cron.split())
    if not cron:
        raise BadSchedule(
            "cron", "a schedule needs a cron expression of five fields (e.g. '0 6 * * 1-5')"
        )
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise BadSchedule(
            "cron", f"{cron!r} is not a cron expression of five fields (e.g. '0 6 * * 1-5')"
        )
    try:  # valid, yet maybe never due (the 30th of February)
        croniter(cron, datetime(2026, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterBadDateError, ValueError, KeyError):
        raise BadSchedule("cron", f"{cron!r} never names a time that comes") from None
    return cron


def next_after(cron: str, tz_name: str, after: datetime) -> datetime:
    """The first time after `after` the expression names, in its time zone."""
    local = after.astimezone(zone(tz_name))
    return croniter(cron, local).get_next(datetime).astimezone(UTC)


def problems(cron: str, tz_name: str) -> dict[str, str]:
    """What is wrong with each field of a schedule (for a form that marks every one)."""
    found = {}
    for field, check, value in (("cron", check_cron, cron), ("timezone", zone, tz_name)):
        try:
            check(value)
        except BadSchedule as exc:
            found[field] = exc.reason
    return found


def save(site: Site, *, cron: str, tz_name: str, enabled: bool, catch_up: bool) -> Schedule:
    """Create or change a site's schedule (BadSchedule naming the field for bad input)."""
    cron, _ = check_cron(cron), zone(tz_name)
    schedule, _ = Schedule.objects.update_or_create(
        site=site,
        defaults={
            "cron": cron,
            "timezone": tz_name,
            "enabled": enabled,
            "catch_up": catch_up,
            "next_run_at": next_after(cron, tz_name, timezone.now()) if enabled else None,
        },
    )
    return schedule


def next_scheduled_at(site_id: int) -> datetime | None:
    return (
        Schedule.objects.filter(site_id=site_id, enabled=True)
        .values_list("next_run_at", flat=True)
        .first()
    )


def start_due(now: datetime | None = None) -> int:
    """Start the runs whose schedule is due; returns how many this process started."""
    now = now or timezone.now()
    started = 0
    for schedule in Schedule.objects.filter(enabled=True, next_run_at__lte=now).select_related(
        "site"
    ):
        due = schedule.next_run_at
        following = next_after(schedule.cron, schedule.timezone, now)
        # The race: one process moves the due time on; the others update nothing and go on.
        won = Schedule.objects.filter(pk=schedule.pk, next_run_at=due).update(
            next_run_at=following, last_due_at=due
        )
        if not won or due is None:
            continue
        late = (now - due).total_seconds() > settings.CASCADE_SCHEDULE_GRACE_SECONDS
        if late and not schedule.catch_up:
            result = f"Missed the start due {due:%Y-%m-%d %H:%M} UTC (no process was up)."
        else:
            try:
                run = engine.start_run(schedule.site, trigger=Trigger.SCHEDULED)
            except engine.EngineRefusal as exc:
                result = f"Skipped the start due {due:%Y-%m-%d %H:%M} UTC: {exc.detail}"
            else:
                started += 1
                result = f"Started run {run.run_id} (due {due:%Y-%m-%d %H:%M} UTC)."
        Schedule.objects.filter(pk=schedule.pk).update(last_result=result[:300])
        log.info("schedule of site %s: %s", schedule.site_id, result)
    return started


def describe(schedule: Schedule | None) -> dict:
    if schedule is None:
        return {
            "enabled": False,
            "cron": "",
            "timezone": "UTC",
            "catch_up": True,
            "next_scheduled_at": None,
            "last_result": "",
        }
    return {
        "enabled": schedule.enabled,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "catch_up": schedule.catch_up,
        "next_scheduled_at": schedule.next_run_at if schedule.enabled else None,
        "last_result": schedule.last_result,
    }
