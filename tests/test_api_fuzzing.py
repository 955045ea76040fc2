"""Fuzzing the API (contract §12): schemathesis generates requests for every operation of
/api/openapi.json, FUZZ_EXAMPLES each, sent with a token to a real `cascade serve`, and runs
every check it has: no server error, every answer as the document declares it, every request
the schema calls valid accepted and every one it calls invalid refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT, Server

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]
FUZZ_EXAMPLES = int(os.environ.get("CASCADE_FUZZ_EXAMPLES", "200"))


@pytest.fixture
def fuzzed(transactional_db, tmp_path):
    """A real server and a user with a token, an account, a site with keywords and a run: ids
    the generated requests may hit (most will not)."""
    from django.contrib.auth import get_user_model

    from cascade.accounts.models import Account, ApiToken, Membership, Site
    from cascade.planner.importing import import_rows

    account = Account.objects.create(name="Fuzz", credits=1_000)
    user = get_user_model().objects.create_user("fuzz", password="fuzz-password-long")
    Membership.objects.create(user=user, account=account, role="owner")
    site = Site.objects.create(account=account, name="Fuzzed")
    import_rows(site, [{"keyword": f"fuzz keyword {n}"} for n in range(5)])
    _, token = ApiToken.issue(user, "fuzz")
    # Few items, so a run the fuzzer starts is over quickly.
    with Server(log=tmp_path / "serve.log", CASCADE_AI_LATENCY="") as server:
        yield server, {"Authorization": f"Bearer {token}"}


def test_schemathesis_finds_nothing_with_every_check(fuzzed, tmp_path):
    """`schemathesis run` as an operator would: every check (no server error, answers as
    declared, schema-valid requests accepted, schema-violating ones refused, ...), positive and
    negative data, the coverage phase, FUZZ_EXAMPLES examples an operation. The few answers
    that depend on the state of the site or of the world are declared in schemathesis.toml."""
    server, headers = fuzzed
    cli = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(ROOT / "schemathesis.toml"),
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
