"""Full runs through the real `openai` package against a fake OpenAI-compatible server."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys

import pytest
from django.test import Client

from cascade.automation import engine
from cascade.automation.models import RunEvent, RunItem
from cascade.automation.statuses import ItemState
from cascade.writer.models import Content, Image
from tests.conftest import snapshot
from tests.fake_openai import FakeOpenAI
from tests.invariants import charged_to, check_full_run, check_snapshot
from tests.servers import server_env

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "sk-test-SECRET-7f3a9c2e1d"


@pytest.fixture
def fake(settings, caplog):
    server = FakeOpenAI().start()
    settings.CASCADE_AI_PROVIDER = "openai"
    settings.OPENAI_API_KEY = KEY
    settings.OPENAI_BASE_URL = server.url
    settings.CASCADE_AI_TIMEOUT = 1.0
    settings.CASCADE_AI_RETRIES = 4  # the faults below come in runs of up to 3
    caplog.set_level(logging.INFO)  # everything any library logs is searched for the key
    yield server
    server.stop()


def run(site):
    started = engine.start_run(site)
    engine.run_until_idle(timeout=120)
    started.refresh_from_db()
    return started


def assert_key_nowhere(caplog, site, run_):
    doc = json.dumps(snapshot(run_))
    assert KEY not in doc
    assert KEY not in caplog.text
    assert not [m for m in RunEvent.objects.values_list("message", flat=True) if KEY in m]
    assert not [m for m in RunItem.objects.values_list("last_error", flat=True) if KEY in m]
    client = Client()
    client.force_login(site.account.memberships.first().user)
    for path in (
        f"/sites/{site.pk}/automation/",
        f"/sites/{site.pk}/automation/runs/{run_.pk}/",
        f"/sites/{site.pk}/settings/",
        "/account/",
    ):
        assert KEY not in client.get(path).content.decode(), path


def test_a_full_run_through_the_openai_package(site, fake, caplog):
    finished = run(site)
    check_full_run(finished)
    check_snapshot(snapshot(finished))
    assert {r["auth"] for r in fake.requests} == {f"Bearer {KEY}"}
    names = {r["name"] for r in fake.requests}
    assert names == {"clusters", "ideas", "article", "image_prompts", "image"}
    formats = [r["body"]["response_format"] for r in fake.requests if r["name"] != "image"]
    assert all(f["type"] == "json_schema" and f["json_schema"]["strict"] for f in formats)
    assert not Content.objects.filter(site=site, is_offline_draft=True).exists()
    assert (
        Image.objects.filter(site=site, status="generated").count()
        == 3 * Content.objects.filter(site=site).count()
    )
    # credits come from the tokens each item used (5 per 1,000) and 3 per picture
    expected = sum(
        math.ceil((p + c) * 5 / 1000)
        for p, c in RunItem.objects.filter(run=finished)
        .exclude(prompt_tokens=0)
        .values_list("prompt_tokens", "completion_tokens")
    )
    expected += 3 * Image.objects.filter(site=site).count()
    assert finished.credits_used == expected
    assert charged_to(finished) == expected
    assert (
        RunItem.objects.filter(run=finished, stage=4).exclude(completion_tokens=0).count()
        == RunItem.objects.filter(run=finished, stage=4).count()
    )
    assert_key_nowhere(caplog, site, finished)


def test_rate_limits_server_errors_and_timeouts_are_retried(site, fake, caplog):
    fake.fault("429", 3)
    fake.fault("500", 3)
    fake.fault("timeout", 2)
    finished = run(site)
    check_full_run(finished)
    assert not fake.faults
    # the openai client retried them, waiting as long as Retry-After said
    assert "Retrying request in 0.300000 seconds" in caplog.text
    # 8 faults in a row: the first attempt's 5 tries end in 4 retries, the item's second
    # attempt meets the last 3 faults (3 retries) and then an answer
    assert caplog.text.count("Retrying request in") == 7
    assert RunEvent.objects.filter(run=finished, kind="item_retried").exists()
    assert_key_nowhere(caplog, site, finished)


def test_an_item_costs_at_most_the_stated_number_of_provider_calls(site, fake, settings):
    """README: at most attempts x (1 + repairs) x (1 + transport retries) requests per item."""
    from cascade.ai.openai_provider import REPAIRS

    settings.CASCADE_AI_RETRIES = 2
    victim = ": idea 2\nStructure:"  # the article of the second idea
    # every answer is refused twice (500) and then invalid: the worst an item can meet
    fake.doom(victim, ["500", "500", "malformed"])
    finished = run(site)
    worst = settings.CASCADE_MAX_ATTEMPTS * (1 + REPAIRS) * (1 + settings.CASCADE_AI_RETRIES)
    assert worst == 18
    assert fake.doomed_calls[victim] == worst
    doomed = RunItem.objects.get(run=finished, stage=4, title__endswith=": idea 2")
    assert doomed.state == ItemState.FAILED and doomed.attempts == settings.CASCADE_MAX_ATTEMPTS
    assert finished.status == "completed"


def test_invalid_answers_are_sent_back_with_their_validation_error(site, fake, caplog, settings):
    settings.CASCADE_BATCH_SIZES = {
        1: 10
    }  # four clustering calls, one fault each ("ok": a valid answer)
    for kind in ("malformed", "ok", "drop", "ok", "repeat", "ok"):
        fake.fault(kind, 1, on="clusters")
    finished = run(site)
    check_full_run(finished)
    repairs = [
        m["content"]
        for r in fake.requests
        for m in r["messages"]
        if m["role"] == "user" and m["content"].startswith("That answer is invalid")
    ]
    assert any("Invalid JSON" in text or "json_invalid" in text for text in repairs), repairs
    assert any("are not assigned" in text for text in repairs), repairs
    assert any("more than once" in text for text in repairs), repairs
    # nothing invalid was accepted: every keyword is in exactly one cluster
    assert RunItem.objects.filter(run=finished, stage=1, state=ItemState.DONE).count() == 40


def test_a_refused_key_pauses_the_run_and_says_so(site, fake, caplog):
    fake.refuse_key = True
    paused = run(site)
    assert paused.status == "paused" and paused.pause_reason == "provider_unavailable"
    assert "refused the API key (401)" in paused.status_message
    assert not RunItem.objects.filter(run=paused, state=ItemState.FAILED).exists()
    assert_key_nowhere(caplog, site, paused)


def test_a_refused_request_fails_that_item_with_the_reason(site, fake, caplog):
    fake.refuse_articles = True
    finished = run(site)
    assert finished.status == "completed"
    failed = RunItem.objects.filter(run=finished, stage=4, state=ItemState.FAILED)
    assert failed.count() == RunItem.objects.filter(run=finished, stage=4).count() > 0
    assert "rejected as a result of our safety system" in failed.first().last_error
    assert_key_nowhere(caplog, site, finished)


def test_an_accounts_own_key_is_used_encrypted_and_never_shown(site, fake, settings, caplog):
    settings.OPENAI_API_KEY = ""
    account = site.account
    account.set_ai_key(KEY)
    account.refresh_from_db()
    assert KEY not in account.ai_api_key_encrypted and account.ai_api_key_hint == "…2e1d"
    assert account.ai_key() == KEY
    finished = run(site)
    check_full_run(finished)
    assert {r["auth"] for r in fake.requests} == {f"Bearer {KEY}"}
    assert_key_nowhere(caplog, site, finished)


def test_the_rate_limiter_spreads_requests_and_tokens_over_its_window():
    import time

    from cascade.ai.limits import RateLimiter

    limiter = RateLimiter(rpm=2, tpm=0, window=0.4)
    started = time.monotonic()
    for _ in range(3):
        limiter.acquire(10)
    assert time.monotonic() - started >= 0.35, "the third request waited for the window"
    tokens = RateLimiter(rpm=0, tpm=100, window=0.4)
    started = time.monotonic()
    tokens.acquire(80)
    tokens.acquire(80)
    assert time.monotonic() - started >= 0.35, "the second request waited until the tokens fit"


def test_concurrency_is_capped_per_provider(site, fake, settings):
    import threading

    from cascade.ai.openai_provider import OpenAIProvider

    settings.CASCADE_AI_CONCURRENCY = 2
    provider = OpenAIProvider()
    inside, peak, lock = [0], [0], threading.Lock()

    def slow():
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        threading.Event().wait(0.1)
        with lock:
            inside[0] -= 1
        return "ok"

    threads = [threading.Thread(target=provider._call, args=(slow, 0)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


SENDER = """
import os
from cascade.ai.openai_provider import OpenAIProvider

provider = OpenAIProvider()
for n in range(int(os.environ["SENDS"])):
    provider._call(
        lambda: provider.client.embeddings.create(model="embed", input=[f"hello {n}"]), 10
    )
"""


def test_the_rate_limit_holds_across_processes(fake):
    """Three processes sending with one key share CASCADE_AI_RPM (in the database with the
    embedded worker, in Redis on Celery): no window holds more requests than the limit, the
    client's own retries of failed requests included."""
    limit, window = 4, 2.0
    fake.fault("500", count=6, on="embeddings")  # each retried by the openai client
    env = server_env(
        CASCADE_AI_PROVIDER="openai",
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=fake.url,
        CASCADE_AI_RPM=str(limit),
        CASCADE_AI_RATE_WINDOW=str(window),
        CASCADE_AI_RETRIES="6",  # (one sender may meet every fault)
        SENDS="4",
    )
    senders = [
        subprocess.Popen([sys.executable, "-m", "cascade", "shell", "-c", SENDER], env=env)
        for _ in range(3)
    ]
    for sender in senders:
        assert sender.wait(120) == 0
    times = sorted(r["at"] for r in fake.requests if r["name"] == "embeddings")
    assert len(times) == 18  # 12 sends and 6 retries
    busiest = max(sum(t <= other < t + 0.9 * window for other in times) for t in times)
    assert busiest <= limit, f"{busiest} requests within {0.9 * window:g} s (limit {limit})"
    assert times[-1] - times[0] >= 4 * window * 0.9  # 18 requests at 4 a window: 5 windows
