from __future__ import annotations

import json
import shlex
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from cascade.accounts.models import Account, Membership, Site
from cascade.automation.models import AutomationRun
from tests.conftest import DEMO
from tests.invariants import check_full_run, ledger_matches_balance
from tests.servers import ROOT, cascade, server_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_users_tokens_imports_and_a_waited_run_from_the_command_line(tmp_path):
    create_dana = (
        "create_user",
        "dana",
        "--password",
        "dana-grows-tomatoes",
        "--account",
        "Dana Co",
    )
    out = cascade(*create_dana, "--credits", "5000").stdout
    assert "Created user 'dana' (owner) in account 'Dana Co' with 5,000 credits." in out
    account = Account.objects.get(name="Dana Co")
    assert Membership.objects.get(account=account).role == "owner"
    assert ledger_matches_balance(account.pk) and account.ledger.count() == 1

    # Running it again with the same password keeps the password (and the user's sessions).
    dana = get_user_model().objects.get(username="dana")
    cascade(*create_dana, "--credits", "6000")
    assert get_user_model().objects.get(username="dana").password == dana.password
    account.refresh_from_db()
    assert account.credits == 6000 and ledger_matches_balance(account.pk)

    token = cascade("create_token", "dana").stdout
    assert token.count("\n") == 1 and token.startswith("csk_")
    client = Client(headers={"Authorization": f"Bearer {token.strip()}"})
    created = client.post(
        "/api/v1/sites/", {"name": "Dana's Garden"}, content_type="application/json"
    )
    assert created.status_code == 201
    site = Site.objects.get(pk=created.json()["id"])

    csv_file = tmp_path / "keywords.csv"
    csv_file.write_text(
        "\n".join(DEMO.read_text().splitlines()[:31]) + "\nHow to grow TOMATOES in pots,1,1,\n,,,\n"
    )
    out = cascade("import_keywords", "--site", str(site.pk), str(csv_file)).stdout
    assert out.startswith("30 created, 1 duplicates, 1 rejected")
    assert "row 33: keyword is empty" in out

    run = cascade(
        "automation",
        "run",
        "--site",
        str(site.pk),
        "--wait",
        CASCADE_AI_LATENCY="4:0.02",
        COLUMNS="60",
        CASCADE_LOG_LEVEL="INFO",
    )
    lines = run.stdout.splitlines()
    whole = next(line for line in lines if line.startswith("Whole run"))
    assert whole.count("━") >= 10 and whole.split()[-2:] == ["100", "%"], whole  # no 2nd figure
    assert any(line.startswith("7/7 Review gate") for line in lines)
    assert lines[-1].startswith("Completed: ") and " left" not in "\n".join(lines[-3:])
    assert max(len(line) for line in lines if "━" in line) <= 60  # the bars fit the terminal
    assert " INFO " not in run.stdout + run.stderr  # the terminal shows words, not the log
    finished = AutomationRun.objects.get(site=site)
    check_full_run(finished)

    status = json.loads(cascade("automation", "status", "--site", str(site.pk), "--json").stdout)
    assert status["run"]["run_id"] == finished.run_id
    assert status["global_progress"]["percentage"] == 100
    table = cascade("automation", "status", "--site", str(site.pk)).stdout.splitlines()
    assert table[0] == f"Run {finished.run_id}: Completed" and table[1].startswith("100 % · ")
    assert max(len(line) for line in table) <= 80

    again = cascade("automation", "run", "--site", str(site.pk), check=False)
    assert again.returncode != 0
    assert "Nothing to process" in again.stderr


def test_a_file_longer_than_a_request_may_carry_is_imported_from_the_command_line(site, tmp_path):
    """A request imports at most 50,000 rows; a file given to the command line any number, in
    parts judged alike (duplicates across parts, rejected rows with their own row numbers)."""
    from tests.keywords import synthetic_keywords

    rows = synthetic_keywords(60_010)
    rows[55_000] = rows[10]  # a duplicate of a keyword of the first part
    rows[59_998] = ""  # row 60,000 of the file (after the header)
    csv_file = tmp_path / "many.csv"
    csv_file.write_text("keyword\n" + "\n".join(rows) + "\n")
    out = cascade("import_keywords", "--site", str(site.pk), str(csv_file)).stdout
    before = 40  # the site's own keywords
    created = site.keywords.count() - before
    assert created == 60_008 and out.startswith(f"{created} created, 1 duplicates, 1 rejected"), out
    assert "row 60000: keyword is empty" in out


def test_bad_command_line_input_is_explained():
    missing = cascade("automation", "status", "--site", "4242", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: Site 4242 does not exist.")
    unknown = cascade(
        "automation", "status", "--site", "1", CASCADE_AI_PROVIDER="nope.Nope", check=False
    )
    assert (
        unknown.returncode == 1 and "CASCADE_AI_PROVIDER='nope.Nope' is unknown" in unknown.stderr
    )
    assert "SystemCheckError" not in unknown.stderr  # (a system check says it, in words)
    nobody = cascade("create_token", "nobody", check=False)
    assert nobody.stderr.startswith("Error: No user named 'nobody'")  # (no class name)


def test_steering_commands_act_on_the_active_run(site):
    cascade("automation", "run", "--site", str(site.pk))
    busy = cascade("automation", "run", "--site", str(site.pk), check=False)
    active = AutomationRun.objects.get(site=site)
    assert busy.returncode != 0 and busy.stderr.startswith(f"Error: Run {active.run_id} is already")
    assert f"cascade automation run --site {site.pk} --attach" in busy.stderr
    # Before a stage is reached, the table shows what it is expected to get, as the page does.
    table = cascade("automation", "status", "--site", str(site.pk), COLUMNS="80").stdout
    assert max(len(line) for line in table.splitlines()) <= 80
    pending = [line for line in table.splitlines() if " Pending " in line]
    assert pending and all("≈" in line for line in pending[1:]), table
    assert "Paused by a user" in cascade("automation", "pause", "--site", str(site.pk)).stdout
    assert "Starting…" in cascade("automation", "resume", "--site", str(site.pk)).stdout
    assert "Cancelled" in cascade("automation", "cancel", "--site", str(site.pk)).stdout
    # --attach follows the active run; with none active it starts one and follows it.
    attached = cascade("automation", "run", "--site", str(site.pk), "--attach", check=False)
    assert "queued for site" in attached.stdout and attached.stdout.splitlines()[-1].startswith(
        "Completed: "
    )
    none = cascade("automation", "pause", "--site", str(site.pk), check=False)
    assert "no active run" in none.stderr


def test_the_demo_serves_on_any_port_and_prints_commands_that_work():
    plan = subprocess.run(
        ["make", "-n", "demo", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "cascade demo --host 127.0.0.1 --port 8123" in plan.stdout
    env = server_env()
    env["PATH"] = "/usr/bin:/bin"  # this project's cascade is not on the PATH
    banner = subprocess.run(
        [".venv/bin/cascade", "demo", "--no-serve", "--port", "8123"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    # Nothing is served with --no-serve: the banner says how to serve it, as it can be typed.
    serve = ".venv/bin/cascade serve --host 127.0.0.1 --port 8123"
    assert f"Serve it with `{serve}`, then log in at http://127.0.0.1:8123/login/" in banner
    # The pace of the demo's offline AI is this process's: another one is told how to keep it.
    assert "export CASCADE_AI_LATENCY=1:" in banner
    command = next(line for line in banner.splitlines() if "CLI:" in line).split("CLI: ", 1)[1]
    assert command.startswith(".venv/bin/cascade automation run --site "), command
    status = shlex.split(command.replace(" run ", " status ").replace(" --wait", ""))
    works = subprocess.run(status, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert works.returncode == 0 and "No runs yet for this site." in works.stdout, works


def test_demo_is_idempotent():
    for _ in range(2):
        out = cascade("demo", "--no-serve").stdout
        assert "user: demo  password: cascade-demo" in out
    site = Site.objects.get(name="Home & Garden Blog")
    assert site.keywords.count() == 300
    assert site.account.credits == 1_000_000


def test_the_command_alone_lists_cascades_commands_and_says_its_version():
    listing = cascade().stdout
    assert listing.startswith("Usage: cascade COMMAND")
    for name in ("automation", "import_keywords", "create_user", "serve", "migrate"):
        assert f"\n  {name} " in listing, name
    assert "sqlflush" not in listing and "startapp" not in listing  # Django's own tools
    assert cascade("--help").stdout == listing
    assert "sqlflush" in cascade("help", "--all").stdout
    version = cascade("--version").stdout.strip()
    assert version.startswith("Cascade 0.") and "(Django 5.2" in version, version
    assert cascade("automation", "--version").stdout.strip() == version  # not Django's alone
