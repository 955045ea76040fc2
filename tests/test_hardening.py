"""Hardening (contract §12): each test below reproduced a finding before it was fixed. Secrets,
login throttling, bounded input, 401 before CSRF, logged errors, security headers, a health
check that tells nobody where the database is, a cap on event streams, and keys that cannot be
decrypted."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
import urllib.request

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import Client

from cascade.accounts import secrets
from cascade.accounts.models import Account, Site
from cascade.ai import KEYED_CLIENTS, get_provider, reset_provider_cache
from cascade.automation import engine
from cascade.automation.statuses import PauseReason, RunStatus
from cascade.automation.steps.writing import write_media
from cascade.live.watchers import PING_SECONDS
from cascade.planner.models import Keyword
from tests.servers import Server, cascade, open_stream, server_env

pytestmark = pytest.mark.django_db(transaction=True)


# --- 1. Secrets ------------------------------------------------------------------------------


def test_without_secret_key_one_is_generated_privately_and_kept(tmp_path):
    env = {"CASCADE_DATA_DIR": str(tmp_path), "SECRET_KEY": "", "DEBUG": "0"}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = cascade("shell", "-c", code, check=False, **env)
    assert first.returncode == 0, first.stderr
    second = cascade("shell", "-c", code, check=False, **env)
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keys = [run.stdout.strip().splitlines()[-1] for run in (first, second)]
    assert keys[0] == keys[1] == key_file.read_text().strip()
    assert len(keys[0]) >= 50


def test_what_cascade_keeps_on_disk_is_for_its_user_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    database = data / "cascade.sqlite3"
    database.write_bytes(b"")  # an older installation's, left readable by everyone
    database.chmod(0o644)
    env = {
        "CASCADE_DATA_DIR": str(data),
        "CASCADE_DB_PATH": str(database),
        "DATABASE_URL": "",
        "SECRET_KEY": "",
        "CASCADE_MEDIA_ROOT": str(tmp_path / "media"),  # outside it, as nginx setups have it
    }
    media = tmp_path / "media"  # a copy made under a looser umask: open to everyone
    (media / "sites" / "1").mkdir(parents=True)
    media.chmod(0o755)
    (media / "sites" / "1" / "a.png").write_bytes(b"png")
    cascade("migrate", "--verbosity", "0", **env)
    code = (
        "from django.db import connection; connection.ensure_connection(); "
        "print('ready', flush=True); input()"
    )
    held = subprocess.Popen(  # a process with the database open keeps its WAL file
        [sys.executable, "-m", "cascade", "shell", "-c", code],
        env=server_env(**env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert held.stdout is not None
    while b"ready" not in held.stdout.readline():
        assert held.poll() is None, "the shell ended before it was ready"
    try:
        mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
        assert mode(data) == 0o700
        assert mode(database) == 0o600 and mode(data / "secret_key") == 0o600
        assert mode(media) == 0o700  # no other user reaches a picture through it
        wal = data / "cascade.sqlite3-wal"
        assert wal.exists() and mode(wal) == 0o600  # kept while a connection is open
    finally:
        held.communicate(b"\n", timeout=60)  # (it ends on its own)


def test_a_data_directory_another_user_keeps_things_in_is_left_as_it_is(tmp_path):
    """(A development checkout's var/ holds the test services' PostgreSQL, run as postgres.)"""
    from cascade.lib.files import keep_private

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    theirs = shared / "services"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    keep_private(shared, None)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    os.chown(theirs, os.getuid(), os.getgid())
    keep_private(shared, None)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("accel", "file_mode", "dir_mode"), [("", 0o600, 0o700), ("/x/", 0o640, 0o750)]
)
def test_pictures_are_private_unless_nginx_sends_them(
    tmp_path, settings, accel, file_mode, dir_mode
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CASCADE_MEDIA_ACCEL_REDIRECT = accel
    target = tmp_path / "media" / "sites" / "7" / "images" / "a.png"
    write_media(target, b"png")
    assert stat.S_IMODE(target.stat().st_mode) == file_mode
    for folder in (target.parent, target.parent.parent, tmp_path / "media"):
        assert stat.S_IMODE(folder.stat().st_mode) == dir_mode, folder


def test_check_deploy_warns_when_nginx_cannot_reach_the_pictures(tmp_path):
    result = cascade(
        "check",
        "--deploy",
        check=False,
        CASCADE_DATA_DIR=str(tmp_path),
        CASCADE_MEDIA_ROOT=str(tmp_path / "media"),
        CASCADE_MEDIA_ACCEL_REDIRECT="/protected-media/",
        SECRET_KEY="",
    )
    assert "cascade.W001" in result.stdout + result.stderr


def test_a_published_key_is_refused_when_debug_is_off(tmp_path):
    published = "cascade-insecure-local-key-set-SECRET_KEY-in-production"
    refused = cascade(
        "check", check=False, CASCADE_DATA_DIR=str(tmp_path), SECRET_KEY=published, DEBUG="0"
    )
    assert refused.returncode != 0
    assert "SECRET_KEY is a published key" in refused.stderr
    allowed = cascade(
        "check", check=False, CASCADE_DATA_DIR=str(tmp_path), SECRET_KEY=published, DEBUG="1"
    )
    assert allowed.returncode == 0, allowed.stderr


def test_stored_secrets_use_a_derived_key_not_the_secret_key_itself(garden, settings):
    garden.set_ai_key("sk-account-key-1234")
    stored = Account.objects.get(pk=garden.pk).ai_api_key_encrypted
    assert "sk-account" not in stored
    # The first scheme (a hash of SECRET_KEY) no longer opens it.
    old = hashlib.sha256(("cascade-ai-keys:" + settings.SECRET_KEY).encode()).digest()
    with pytest.raises(Exception):  # noqa: B017 - any failure to decrypt
        Fernet(base64.urlsafe_b64encode(old)).decrypt(stored.encode())
    assert garden.ai_key() == "sk-account-key-1234"


def test_rotation_keeps_old_secrets_readable_until_rotate_secrets(garden, settings, capsys):
    settings.CASCADE_ENCRYPTION_KEY = "first-key-" + "a" * 40
    garden.set_ai_key("sk-rotate-me-5678")
    settings.CASCADE_ENCRYPTION_KEY = "second-key-" + "b" * 40
    with pytest.raises(secrets.Undecryptable):
        Account.objects.get(pk=garden.pk).ai_key()
    settings.CASCADE_ENCRYPTION_KEY_FALLBACKS = ["first-key-" + "a" * 40]
    assert Account.objects.get(pk=garden.pk).ai_key() == "sk-rotate-me-5678"
    call_command("rotate_secrets")
    assert "1 stored secret re-encrypted." in capsys.readouterr().out
    settings.CASCADE_ENCRYPTION_KEY_FALLBACKS = []
    assert Account.objects.get(pk=garden.pk).ai_key() == "sk-rotate-me-5678"


# --- 2. Login ---------------------------------------------------------------------------------


def test_twenty_wrong_passwords_then_the_right_one_is_refused_with_the_wait(alice):
    client = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [
        client.post("/login/", {"username": "alice", "password": f"wrong-{n}"}).status_code
        for n in range(20)
    ]
    assert statuses[:9] == [200] * 9 and set(statuses[10:]) == {429}, statuses
    right = client.post("/login/", {"username": "alice", "password": "alice-password"})
    assert right.status_code == 429
    assert "Try again in 15 minutes" in right.content.decode()
    assert int(right["Retry-After"]) == 900
    assert "_auth_user_id" not in client.session
    # The same user name from another address is refused too (throttled per user name).
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert other.post("/login/", {"username": "alice", "password": "alice-password"}).status_code
    assert "_auth_user_id" not in other.session


def test_a_good_login_elsewhere_never_resets_the_count_against_another_user(alice, bob):
    """Rounds of wrong passwords for alice, each followed by a good login to the guesser's own
    account from the same address, still lock alice: a good login clears only its own user
    name's failures, and failures are counted per user name and per address."""
    guesser = Client(REMOTE_ADDR="203.0.113.20")
    statuses = []
    for round_ in range(4):
        for n in range(3):
            answer = guesser.post("/login/", {"username": "alice", "password": f"x{round_}{n}"})
            statuses.append(answer.status_code)
        own = Client(REMOTE_ADDR="203.0.113.20")
        own.post("/login/", {"username": "bob", "password": "bob-password"})
    assert 429 in statuses, statuses
    elsewhere = Client(REMOTE_ADDR="198.51.100.20")
    locked = elsewhere.post("/login/", {"username": "alice", "password": "alice-password"})
    assert locked.status_code == 429 and "_auth_user_id" not in elsewhere.session


def test_a_good_login_clears_only_its_own_failures(alice, bob):
    from axes.models import AccessAttempt

    shared = Client(REMOTE_ADDR="203.0.113.21")
    for n in range(4):
        shared.post("/login/", {"username": "bob", "password": f"wrong-{n}"})
        shared.post("/login/", {"username": "alice", "password": f"wrong-{n}"})
    Client(REMOTE_ADDR="198.51.100.21").post(
        "/login/", {"username": "alice", "password": "alice-password"}
    )
    assert not AccessAttempt.objects.filter(username="alice").exists()
    left = AccessAttempt.objects.filter(username="bob").values_list(
        "failures_since_start", flat=True
    )
    assert sum(left) == 4, "bob's failures stay"


def test_many_user_names_from_one_address_are_throttled(alice):
    client = Client(REMOTE_ADDR="203.0.113.8")
    for n in range(10):
        client.post("/login/", {"username": f"guess{n}", "password": "x"})
    blocked = client.post("/login/", {"username": "alice", "password": "alice-password"})
    assert blocked.status_code == 429


def test_passwords_go_through_the_validators(db):
    weak = cascade(
        "create_user", "erin2", "--password", "12345678", "--account", "Weak Co", check=False
    )
    assert weak.returncode != 0
    assert "too weak" in weak.stderr and "too common" in weak.stderr


def test_the_operator_s_user_and_account_names_carry_no_invisible_characters(db):
    for name, account in (("ev\u202eil", "Fine Co"), ("erin3", "Zero\u200bWidth Co")):
        made = cascade(
            "create_user",
            name,
            "--password",
            "a-long-good-passphrase",
            "--account",
            account,
            check=False,
        )
        assert made.returncode != 0 and "invisible formatting character" in made.stderr


# --- 3 and 4. Bounded bodies, ids and numbers -----------------------------------------------


def test_an_oversized_import_is_refused_before_it_is_read(api, site):
    body = b'{"keywords": [' + b'"x",' * (9 * 1024 * 1024 // 4) + b'"x"]}'
    response = api.post(f"/api/v1/sites/{site.pk}/keywords/", body, content_type="application/json")
    assert response.status_code == 413
    assert "at most 8 MiB" in response.json()["detail"]
    settings_body = json.dumps({"tone": "x" * (3 * 1024 * 1024)})
    other = api.put(
        f"/api/v1/sites/{site.pk}/settings/", settings_body, content_type="application/json"
    )
    assert other.status_code == 413 and "at most 2 MiB" in other.json()["detail"]
    assert not Keyword.objects.filter(site=site, keyword="x").exists()


def test_a_csv_import_is_read_as_a_stream(api, site):
    rows = "keyword\n" + "".join(f"stream keyword {n}\n" for n in range(3000))
    response = api.post(f"/api/v1/sites/{site.pk}/keywords/", rows, content_type="text/csv")
    assert response.status_code == 200 and response.json()["created"] == 3000
    bad = "keyword\ncaf\u00e9\n".encode()[:-2] + b"\xff\n"
    refused = api.post(f"/api/v1/sites/{site.pk}/keywords/", bad, content_type="text/csv")
    assert refused.status_code == 422 and "not UTF-8" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("get", "/api/v1/sites/9223372036854775808/", None, 404),
        ("get", "/sites/9999999999999999999999999/automation/", None, 404),
        ("get", "/sites/9999999999999999999999999/content/12/", None, 404),
        ("get", "/api/v1/automation/pipeline_overview/?site_id=99999999999999999999", None, 422),
        ("get", "/api/v1/automation/run_progress/?site_id=99999999999999999999", None, 422),
        ("get", "/api/v1/automation/stream/?site_id=99999999999999999999", None, 422),
        ("get", "/api/v1/automation/stream/?site_id=-99999999999999999999", None, 422),
        ("post", "/api/v1/sites/", '{"name": "x", "account_id": 1e30}', 422),
        ("put", "/api/v1/automation/config/?site_id={site}", '{"max_items_per_stage": 1e30}', 422),
        ("get", "/api/v1/sites/{site}/keywords/?offset=9223372036854775808", None, 422),
        ("post", "/api/v1/sites/{site}/keywords/", '{"keywords": [{"keyword": "e\\ud800"}]}', 200),
        ("post", "/api/v1/sites/{site}/keywords/", "[" * 100_000, 422),
        ("get", "/api/v1/sites/{site}/content/99999999999999999999/", None, 404),
    ],
)
def test_out_of_range_ids_and_numbers_are_404_or_422(api, site, method, path, body, expected):
    path = path.replace("{site}", str(site.pk))
    kwargs = {"content_type": "application/json"} if body is not None else {}
    response = getattr(api, method)(path, *([body] if body is not None else []), **kwargs)
    assert response.status_code == expected, response.content[:300]
    if expected == 200:  # the keyword with a lone surrogate is rejected with its reason
        assert response.json()["rejected"][0]["reason"] == (
            "keyword contains a broken character (a lone surrogate)"
        )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("keyword", "best\u202egpj.exe", "invisible formatting character (U+202E)"),
        ("keyword", "zero\u200bwidth", "invisible formatting character (U+200B)"),
    ],
)
def test_keywords_with_invisible_characters_are_rejected(api, site, field, value, reason):
    response = api.post(
        f"/api/v1/sites/{site.pk}/keywords/",
        {"keywords": [{field: value}]},
        content_type="application/json",
    )
    assert reason in response.json()["rejected"][0]["reason"]
    assert not Keyword.objects.filter(site=site, keyword=value).exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "Shop\u202eevil"}, "name: Use visible characters only"),
        ({"name": "Sh\u200bop"}, "name: Use visible characters only"),
        ({"name": "\u3164\u3164"}, "name: Use visible characters only"),  # Hangul fillers
        ({"name": "\ufe0f"}, "name: Use visible characters only"),  # a variation selector
        ({"name": "Shop\U000e0100"}, "name: Use visible characters only"),
        ({"name": "Sh\u180bop"}, "name: Use visible characters only"),
        ({"name": "Shop\u2028"}, "name: Use visible characters only"),
        ({"name": "Shop", "domain": "exa\x00mple.com"}, "domain: Use visible characters only"),
        ({"name": "Shop", "domain": "https://example.com/x"}, "domain: A host name"),
    ],
)
def test_site_names_and_domains_are_visible_text(api, garden, payload, message):
    response = api.post("/api/v1/sites/", payload, content_type="application/json")
    assert response.status_code == 422 and message in response.json()["detail"]
    assert not Site.objects.filter(account=garden, name__startswith="Sh").exists()


# --- 5. Anonymous writes are 401 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/automation/run_now/?site_id={site}"),
        ("post", "/api/v1/automation/pause/?site_id={site}&run_id={run}"),
        ("post", "/api/v1/automation/resume/?site_id={site}&run_id={run}"),
        ("post", "/api/v1/automation/cancel/?site_id={site}&run_id={run}"),
        ("post", "/api/v1/automation/retry_failed/?site_id={site}&run_id={run}"),
        ("put", "/api/v1/automation/config/?site_id={site}"),
        ("post", "/api/v1/sites/{site}/keywords/"),
    ],
)
def test_anonymous_writes_are_401_not_a_csrf_failure(site, method, path):
    client = Client(enforce_csrf_checks=True)
    path = path.format(site=site.pk, run="00000000-0000-0000-0000-000000000000")
    response = getattr(client, method)(path, "{}", content_type="application/json")
    assert response.status_code == 401, response.content
    assert "Authentication required" in response.json()["detail"]


def test_a_logged_in_browser_still_needs_its_csrf_token(site, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(f"/api/v1/automation/run_now/?site_id={site.pk}")
    assert response.status_code == 403


# --- 6. Errors are logged ---------------------------------------------------------------------


def test_a_server_error_is_logged_with_its_traceback(alice, monkeypatch, caplog):
    import logging

    from cascade.web import views

    def broken(*args, **kwargs):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(views, "sites_of", broken)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/")
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info and "the disk caught fire" in str(record.exc_info[1])
    # ... and the record reaches a handler that writes to standard error.
    logger, handlers = logging.getLogger("django.request"), []
    while logger is not None:
        handlers += [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
        logger = logger.parent if logger.propagate else None
    assert handlers and all(h.level <= logging.ERROR for h in handlers)


def test_serve_logs_every_request_when_asked(tmp_path):
    log = tmp_path / "serve.log"
    with Server(log=log, CASCADE_ACCESS_LOG="1") as server:
        urllib.request.urlopen(f"{server.url}/login/", timeout=10).read()
    text = log.read_text()
    assert '"GET /login/ HTTP/1.1" 200' in text, text[-2000:]


# --- 7. Security headers and check --deploy -------------------------------------------------


def test_every_page_has_a_csp_without_inline_script(alice, site):
    client = Client()
    client.force_login(alice)
    for path in ("/login/", f"/sites/{site.pk}/automation/", f"/sites/{site.pk}/content/"):
        policy = client.get(path)["Content-Security-Policy"]
        script = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, policy
        assert "frame-ancestors 'none'" in policy


def test_check_deploy_is_clean_with_the_documented_tls_settings(tmp_path):
    result = cascade(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        CASCADE_DATA_DIR=str(tmp_path),
        DEBUG="0",
        SECRET_KEY="",
        CASCADE_HTTPS="1",
        ALLOWED_HOSTS="cascade.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- 8. Health check --------------------------------------------------------------------------


def test_healthz_does_not_tell_anyone_where_the_database_is(django_user_model, monkeypatch):
    from django.db import OperationalError

    def unreachable(*args, **kwargs):
        raise OperationalError('connection to server at "db.internal" (10.0.0.5), port 5432 failed')

    staff = django_user_model.objects.create_user(
        "ops", password="ops-password-long", is_staff=True
    )
    monkeypatch.setattr(connection, "cursor", unreachable)
    anonymous = Client().get("/healthz")
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "error", "detail": "The database is unreachable."}
    monkeypatch.undo()
    assert Client().get("/healthz/live").status_code == 403
    client = Client()
    client.force_login(staff)
    assert set(client.get("/healthz/live").json()) == {"checks", "reads", "watchers", "viewers"}


# --- 9. Event streams per user ----------------------------------------------------------------


def test_one_user_holds_at_most_ten_streams(tmp_path, site, alice, token_for):
    token = token_for(alice)
    with Server(log=tmp_path / "serve.log") as server:
        streams = [open_stream(server, site.pk, token) for _ in range(10)]
        assert [s.status for s in streams] == [200] * 10
        eleventh = open_stream(server, site.pk, token)
        assert eleventh.status == 429 and "Too many live streams" in eleventh.read().decode()
        streams[0].close()
        # The server notices the closed connection when the client's hang-up reaches it, or at
        # its next write at the latest (a heartbeat every PING_SECONDS): on a busy machine, that.
        deadline = time.monotonic() + 4 * PING_SECONDS
        while True:
            again = open_stream(server, site.pk, token)
            if again.status == 200 or time.monotonic() > deadline:
                break
            again.read()
            time.sleep(0.1)
        assert again.status == 200


# --- 10. An account key that cannot be decrypted ----------------------------------------------


def test_an_undecryptable_account_key_pauses_the_run_and_never_uses_the_servers(site, settings):
    settings.CASCADE_AI_PROVIDER = "openai"
    settings.OPENAI_API_KEY = "sk-the-operators-own-key"
    reset_provider_cache()
    foreign = Fernet(Fernet.generate_key()).encrypt(b"sk-lost").decode()
    Account.objects.filter(pk=site.account_id).update(
        ai_api_key_encrypted=foreign, ai_api_key_hint="…lost"
    )
    run = engine.start_run(site)
    engine.run_until_idle(timeout=30)
    run.refresh_from_db()
    assert run.status == RunStatus.PAUSED and run.pause_reason == PauseReason.PROVIDER_UNAVAILABLE
    assert "re-enter your key" in run.status_message
    reset_provider_cache()


def test_clients_for_account_keys_are_bounded(settings, garden):
    settings.CASCADE_AI_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    reset_provider_cache()
    from cascade import ai

    for n in range(KEYED_CLIENTS + 10):
        garden.set_ai_key(f"sk-key-number-{n:04}")
        get_provider(Account.objects.get(pk=garden.pk))
    assert len(ai._keyed) == KEYED_CLIENTS
    reset_provider_cache()


@pytest.mark.django_db
def test_a_page_that_is_not_there_says_so_with_a_way_back(alice, bob):
    """A wrong address, or another account's site, answers 404 with Cascade's page (the same
    for both, so it tells nothing of the other account), never a bare "Not Found"."""
    client = Client()
    client.force_login(alice)
    others = Site.objects.get(name="Bob's Blog")
    for path in ("/no/such/page/", f"/sites/{others.pk}/automation/"):
        page = client.get(path)
        assert page.status_code == 404
        html = page.content.decode()
        assert 'data-testid="not-found"' in html and 'href="/sites/">Go to your sites' in html
    assert Client().get("/no/such/page/").status_code in (302, 404)
