"""Fuzzing the API (contract §12): schemathesis generates requests for every operation of
/api/openapi.json, FUZZ_EXAMPLES each, sent with a token to a real `cascade serve`, and runs
every check it has: no server error, every answer as the document declares it, every request
the schema calls valid accepted and every one it calls invalid refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_to_end
from tests.servers import ROOT, Server

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]
FUZZ_EXAMPLES = int(os.environ.get("CASCADE_FUZZ_EXAMPLES", "100"))


@pytest.fixture
def fuzzed(transactional_db, tmp_path):
    """A real server and a user with a token, an account, a site after a whole run (clusters,
    articles, pictures), more keywords waiting, and a webhook with a delivery: ids the generated
    requests hit most of the time (`ids`), so operations on one article, run or webhook reach
    their logic instead of answering 404."""
    from django.contrib.auth import get_user_model

    from cascade.accounts import secrets
    from cascade.accounts.models import Account, ApiToken, Membership, Site
    from cascade.notify.models import Webhook
    from cascade.notify.webhooks import emit
    from cascade.planner.importing import import_rows
    from cascade.writer.models import Content

    account = Account.objects.create(name="Fuzz", credits=1_000)
    user = get_user_model().objects.create_user("fuzz", password="fuzz-password-long")
    Membership.objects.create(user=user, account=account, role="owner")
    site = Site.objects.create(account=account, name="Fuzzed")
    import_rows(site, [{"keyword": f"fuzz keyword {n}"} for n in range(5)])
    run = run_to_end(site)
    # Few items, so a run the fuzzer starts is over quickly.
    import_rows(site, [{"keyword": f"later keyword {n}"} for n in range(3)])
    hook = Webhook.objects.create(
        site=site,
        url="https://hooks.example/fuzz",
        events=["run.finished"],
        secret_encrypted=secrets.encrypt("whsec_fuzz"),
    )
    emit(site.pk, "run.finished", {"run_id": str(run.pk)})
    ids = {
        "site_id": [site.pk],
        "account_id": [account.pk],
        "run_id": [str(run.pk)],
        "content_id": list(Content.objects.filter(site=site).values_list("pk", flat=True)),
        "webhook_id": [hook.pk],
        "delivery_id": [str(d.delivery_id) for d in hook.deliveries.all()],
    }
    _, token = ApiToken.issue(user, "fuzz")
    with Server(log=tmp_path / "serve.log", CASCADE_AI_LATENCY="") as server:
        yield server, {"Authorization": f"Bearer {token}"}, ids


STATE_DEPENDENT = {
    "POST /api/v1/automation/pause/",
    "POST /api/v1/automation/resume/",
    "POST /api/v1/automation/cancel/",
    "POST /api/v1/automation/retry_failed/",
    "POST /api/v1/sites/{site_id}/content/{content_id}/publish/",
}


def missing_test_data(report: str) -> set[str]:
    """The operations schemathesis's warning says only ever answered 404."""
    block = re.search(r"^Missing test data:.*?\n((?:\s+- .*\n)+)", report, re.M)
    return set(re.findall(r"- (\S+ \S+)", block[1])) if block else set()


def config_with(ids: dict[str, list], directory: Path) -> Path:
    """The operator's schemathesis.toml, with each id parameter bound to the fixture's real ids
    most of the time (the rest stays generated, so unknown and malformed ids are tried too)."""
    lines = [(ROOT / "schemathesis.toml").read_text(), "", "[dictionaries]"]
    for name, values in ids.items():
        lines.append(f"{name} = {{ values = {json.dumps(values)} }}")
    lines += ["", "[parameters]"]
    for name in ids:
        for where in ("path", "query"):
            lines.append(f'"{where}.{name}" = {{ dictionary = "{name}", probability = 0.8 }}')
    path = directory / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_schemathesis_finds_nothing_with_every_check(fuzzed, tmp_path):
    """`schemathesis run` as an operator would: every check (no server error, answers as
    declared, schema-valid requests accepted, schema-violating ones refused, ...), positive and
    negative data, the coverage phase, FUZZ_EXAMPLES examples an operation. The few answers
    that depend on the state of the site or of the world are declared in schemathesis.toml."""
    server, headers, ids = fuzzed
    assert ids["content_id"] and ids["delivery_id"]
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(config_with(ids, tmp_path)),
            "run",
            f"{server.url}/api/openapi.json",
            "--header",
            f"Authorization: {headers['Authorization']}",
            "--checks",
            "all",
            "--max-examples",
            str(FUZZ_EXAMPLES),
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            "20261204",
            "--no-color",
        ],
        cwd=tmp_path,  # (its caches go there)
        capture_output=True,
        text=True,
        timeout=1800,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    assert selected and selected[1] == selected[2], report[-3000:]  # every operation
    assert f"Tested: {selected[1]}" in report, report[-3000:]
    assert re.search(r"\d+ generated, \d+ passed", report), report[-3000:]
    # Every operation got past its 404s to its logic some of the time; those whose refusals
    # depend on a run's or an article's state (a finished run cannot be paused: 409) answer
    # only refusals here, which schemathesis cannot tell from missing data.
    assert missing_test_data(report) <= STATE_DEPENDENT, report[-3000:]
