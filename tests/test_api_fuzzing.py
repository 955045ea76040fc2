"""Fuzzing the API (contract §12): schemathesis generates requests for every operation of
/api/openapi.json, at least FUZZ_EXAMPLES each, sent with a token to a real `cascade serve`.
No answer may be a server error, and every answer must match what the document declares
(status code, content type and body schema)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.servers import Server

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]
FUZZ_EXAMPLES = int(os.environ.get("CASCADE_FUZZ_EXAMPLES", "200"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(Client().get("/api/openapi.json").json())


@pytest.fixture(scope="module")
def fuzzed(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real server and a user with a token, an account, a site with keywords and a run: ids
    the generated requests may hit (most will not)."""
    from django.contrib.auth import get_user_model

    from cascade.accounts.models import Account, ApiToken, Membership, Site
    from cascade.planner.importing import import_rows

    with django_db_blocker.unblock():
        account = Account.objects.create(name="Fuzz", credits=1_000)
        user = get_user_model().objects.create_user("fuzz", password="fuzz-password-long")
        Membership.objects.create(user=user, account=account, role="owner")
        site = Site.objects.create(account=account, name="Fuzzed")
        import_rows(site, [{"keyword": f"fuzz keyword {n}"} for n in range(5)])
        _, token = ApiToken.issue(user, "fuzz")
    log = tmp_path_factory.mktemp("fuzz") / "serve.log"
    # Few items, so a run the fuzzer starts is over quickly.
    with Server(log=log, CASCADE_AI_LATENCY="") as server:
        yield server, {"Authorization": f"Bearer {token}"}
    with django_db_blocker.unblock():
        from django.core.management import call_command

        call_command("flush", interactive=False, verbosity=0)


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_matches_the_schema(case, fuzzed):
    server, headers = fuzzed
    case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)
