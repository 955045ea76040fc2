from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from cascade.accounts import credits
from cascade.accounts.models import Account, Membership, Role, Site
from cascade.lib.commands import Command as CascadeCommand
from cascade.lib.env import parse_stage_map
from cascade.planner.importing import import_rows, rows_from_csv

DEMO_FILE = Path(__file__).resolve().parents[2] / "data" / "demo_keywords.csv"
DEMO_PASSWORD = "cascade-demo"
DEMO_CREDITS = 1_000_000
# Simulated AI seconds per item so a full demo run (300 keywords) takes about four minutes.
DEMO_LATENCY = "1:0.04,2:0.4,4:1.4,5:0.2,6:0.28"


def this_command() -> str:
    """How to run this very `cascade` again from here, as it was started: `cascade` when that
    is the one on the PATH, else its path (e.g. `.venv/bin/cascade`), or `python -m cascade`."""
    program = Path(sys.argv[0])
    if program.name == "cascade":
        found = shutil.which("cascade")
        if found and Path(found).resolve() == program.resolve():
            return "cascade"
        return shlex.quote(os.path.relpath(program))
    return f"{shlex.quote(os.path.relpath(sys.executable))} -m cascade"


class Command(CascadeCommand):
    help = "Prepare the demo account, user and site (idempotent) and serve them."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, no_serve, host, port, **options):
        call_command("migrate", interactive=False, verbosity=0)
        site = self.prepare()
        paced = bool(os.environ.get("CASCADE_AI_LATENCY"))
        if not paced:
            settings.CASCADE_AI_LATENCY = parse_stage_map("CASCADE_AI_LATENCY", DEMO_LATENCY)
        serve = f"{this_command()} serve --host {host} --port {port}"
        where = "Log in at" if not no_serve else f"Serve it with `{serve}`, then log in at"
        self.stdout.write(
            f'\nDemo ready: site {site.pk} "{site.name}" with {site.keywords.count()} keywords.\n'
            f"  {where} http://{host}:{port}/login/  user: demo  password: {DEMO_PASSWORD}\n"
            f"  CLI: {this_command()} automation run --site {site.pk} --wait\n"
        )
        if no_serve and not paced:  # (this process paces its own runs; another one would not)
            self.stdout.write(
                "  The demo paces the offline AI like a real model's, so a run can be watched: "
                f"export CASCADE_AI_LATENCY={DEMO_LATENCY} before serving it or running it\n"
                "  from the command line, or runs finish in seconds.\n"
            )
        if not no_serve:
            call_command("serve", host=host, port=port, no_migrate=True)

    @transaction.atomic
    def prepare(self) -> Site:
        account, _ = Account.objects.get_or_create(name="Demo Account")
        if account.credits < DEMO_CREDITS:
            credits.add(account, DEMO_CREDITS - account.credits, note="Demo credits")
        user, created = get_user_model().objects.get_or_create(username="demo")
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save()
        Membership.objects.get_or_create(user=user, account=account, defaults={"role": Role.OWNER})
        site, _ = Site.objects.get_or_create(
            account=account,
            name="Home & Garden Blog",
            defaults={"domain": "homeandgarden.example", "audience": "home owners"},
        )
        import_rows(site, rows_from_csv(DEMO_FILE.read_bytes()), first_row=2)
        return site
