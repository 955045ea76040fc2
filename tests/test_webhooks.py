"""Webhooks and email (contract §11) against real receivers on loopback: signed deliveries of
run.finished and run.paused, the same delivery id on every retry, a receiver that is down for
two minutes, redelivery, bad input, the command line, and email to owners who opted in."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.test import Client

from cascade.automation import engine
from cascade.notify import sending, webhooks
from cascade.notify.models import Attempt, Delivery, Email, EmailOptIn
from cascade.planner.importing import import_rows
from tests.browser import shot
from tests.conftest import DEMO, keywords_of, run_to_end, serving, wait_for
from tests.receivers import MailReceiver, WebhookReceiver
from tests.servers import cascade

pytestmark = pytest.mark.django_db(transaction=True)
ALL = ["run.finished", "run.paused", "content.published"]


@pytest.fixture
def hooks(settings):
    """Receivers on loopback are allowed here; retries come quickly."""
    settings.CASCADE_WEBHOOKS_ALLOW_PRIVATE = True
    settings.CASCADE_WEBHOOK_BACKOFF = 0.2
    settings.CASCADE_WEBHOOK_MAX_BACKOFF = 1.0
    return settings


@pytest.fixture
def receiver():
    hook = WebhookReceiver().up()
    yield hook
    hook.down()


def add(api, site, url: str, events: list[str] = ALL):
    return api.post(
        f"/api/v1/sites/{site.pk}/webhooks/",
        {"url": url, "events": events},
        content_type="application/json",
    )


def send_all(timeout: float = 30.0) -> None:
    """Send what is due as a worker does, until no delivery or email is pending."""
    deadline = time.monotonic() + timeout
    while (
        Delivery.objects.filter(status="pending").exists()
        or Email.objects.filter(status="pending").exists()
    ):
        assert time.monotonic() < deadline, "deliveries still pending"
        if not sending.send_once():
            time.sleep(0.05)


def test_a_finished_run_is_posted_signed_to_the_webhook(hooks, site, api, receiver):
    created = add(api, site, receiver.url, ["run.finished"])
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    listed = api.get(f"/api/v1/sites/{site.pk}/webhooks/").json()
    assert [h["url"] for h in listed] == [receiver.url] and "secret" not in listed[0]

    run = run_to_end(site)
    send_all()
    assert receiver.events() == ["run.finished"]
    got = receiver.received[0]
    assert got.signed_with(secret)
    assert not got.signed_with(secret + "x")
    body = got.json
    assert list(body)[:3] == ["event", "delivered_at", "site_id"]
    assert body["event"] == "run.finished" and body["site_id"] == site.pk
    assert body["run"]["run_id"] == run.run_id and body["run"]["outcome"] == "succeeded"
    assert body["global_progress"]["percentage"] == 100
    uuid.UUID(got.headers["x-cascade-delivery"])

    wid = created.json()["id"]
    log = api.get(f"/api/v1/sites/{site.pk}/webhooks/{wid}/deliveries/").json()
    assert log["count"] == 1
    row = log["items"][0]
    assert row["id"] == got.headers["x-cascade-delivery"]
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert [a["status_code"] for a in row["attempt_log"]] == [200]


def test_a_receiver_answering_500_twice_gets_the_same_delivery_id_three_times(
    hooks, site, api, receiver
):
    created = add(api, site, receiver.url, ["run.paused"]).json()
    receiver.answers = [500, 500]
    run = engine.start_run(site)
    engine.pause_run(run.pk)  # queued: paused at once, by a user
    send_all()
    assert receiver.events() == ["run.paused"] * 3
    ids = {r.headers["x-cascade-delivery"] for r in receiver.received}
    assert len(ids) == 1
    assert all(r.signed_with(created["secret"]) for r in receiver.received)
    body = receiver.received[-1].json
    assert body["run"]["status"] == "paused" and body["run"]["pause_reason"] == "user"
    row = api.get(f"/api/v1/sites/{site.pk}/webhooks/{created['id']}/deliveries/").json()
    attempts = row["items"][0]["attempt_log"]
    assert [a["status_code"] for a in attempts] == [500, 500, 200]
    assert row["items"][0]["status"] == "delivered"


def test_redeliver_sends_the_same_delivery_again(hooks, site, api, receiver):
    created = add(api, site, receiver.url, ["run.paused"]).json()
    engine.pause_run(engine.start_run(site).pk)
    send_all()
    delivery = Delivery.objects.get()
    answer = api.post(
        f"/api/v1/sites/{site.pk}/webhooks/{created['id']}/deliveries/"
        f"{delivery.delivery_id}/redeliver/"
    )
    assert answer.status_code == 200 and answer.json()["status"] == "pending"
    send_all()
    assert [r.headers["x-cascade-delivery"] for r in receiver.received] == [
        str(delivery.delivery_id)
    ] * 2


def test_one_delivery_is_sent_once_however_many_senders(hooks, site, api, receiver):
    add(api, site, receiver.url, ["run.paused"])
    engine.pause_run(engine.start_run(site).pk)
    barrier = threading.Barrier(4)

    def sender() -> None:
        barrier.wait()
        sending.send_once()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receiver.received) == 1
    assert Delivery.objects.get().attempts == 1


def test_a_failing_receiver_is_given_up_after_the_retry_window(hooks, site, api, receiver):
    hooks.CASCADE_WEBHOOK_RETRY_SECONDS = 1.5
    add(api, site, receiver.url, ["run.paused"])
    receiver.answers = [503] * 100
    engine.pause_run(engine.start_run(site).pk)
    send_all()
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and delivery.last_status_code == 503
    assert delivery.attempts >= 2 and len(receiver.received) == delivery.attempts


@pytest.mark.slow
def test_a_receiver_down_for_many_tries_still_gets_the_event(hooks, site, api, worker):
    """The worker (embedded pool or Celery) keeps trying while the receiver is down, well past
    the point where the wait between tries stops growing (here 1 s, an hour by default), and
    delivers once it is back."""
    receiver = WebhookReceiver()  # not listening yet
    add(api, site, receiver.url, ["run.finished"])
    run = engine.start_run(site)
    wait_for(lambda: Delivery.objects.filter(attempts__gte=8).exists(), 120, 0.2, "eight tries")
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"
    assert "The receiver cannot be reached" in delivery.last_error
    receiver.up()
    try:
        wait_for(lambda: receiver.received, 30, 0.1, "the delivery after the receiver is back")
        wait_for(lambda: Delivery.objects.get().status == "delivered", 10, 0.1, "delivered")
    finally:
        receiver.down()
    assert receiver.events() == ["run.finished"]
    assert receiver.received[0].json["run"]["run_id"] == str(run.run_id)
    assert Delivery.objects.get().attempts > delivery.attempts


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://example.com/hook", "events": ["run.finished"]}, "url", "http"),
        ({"url": "not a url", "events": ["run.finished"]}, "url", "http"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["run.finished"]}, "url", "private"),
        ({"url": "http://10.0.0.8/hook", "events": ["run.finished"]}, "url", "private"),
        ({"url": "https://example.com/hook", "events": ["run.started"]}, "events", "run.started"),
        ({"url": "https://example.com/hook", "events": []}, "events", ""),
        ({"url": "https://example.com/hook"}, "events", ""),
    ],
)
def test_bad_webhooks_are_refused_naming_the_field(site, api, body, field, words):
    answer = api.post(f"/api/v1/sites/{site.pk}/webhooks/", body, content_type="application/json")
    assert answer.status_code == 422, answer.content
    errors = answer.json()["errors"]
    assert errors[0]["field"] == field
    assert words in answer.json()["detail"]


def test_only_people_who_may_change_the_site_manage_its_webhooks(
    hooks, site, carol, bob, token_for, receiver
):
    viewer = Client(headers={"Authorization": f"Bearer {token_for(carol)}"})
    refused = add(viewer, site, receiver.url)
    assert refused.status_code == 403
    stranger = Client(headers={"Authorization": f"Bearer {token_for(bob)}"})
    assert add(stranger, site, receiver.url).status_code == 404
    assert stranger.get(f"/api/v1/sites/{site.pk}/webhooks/").status_code == 404


def test_a_removed_webhook_gets_nothing(hooks, site, api, receiver):
    wid = add(api, site, receiver.url).json()["id"]
    assert api.delete(f"/api/v1/sites/{site.pk}/webhooks/{wid}/").status_code == 204
    engine.pause_run(engine.start_run(site).pk)
    send_all()
    assert receiver.received == [] and not Delivery.objects.exists()


def test_a_webhook_removed_while_its_call_is_out_leaves_nothing_behind(
    hooks, site, api, receiver, monkeypatch
):
    """The call goes out, the webhook is removed meanwhile (and its deliveries with it): the
    sender records nothing and goes on, instead of failing on the missing delivery."""
    wid = add(api, site, receiver.url, ["run.paused"]).json()["id"]
    engine.pause_run(engine.start_run(site).pk)
    post = sending._post

    def removed_meanwhile(delivery):
        answer = post(delivery)
        assert api.delete(f"/api/v1/sites/{site.pk}/webhooks/{wid}/").status_code == 204
        return answer

    monkeypatch.setattr(sending, "_post", removed_meanwhile)
    send_all()
    assert len(receiver.received) == 1
    assert not Delivery.objects.exists() and not Attempt.objects.exists()


def test_the_command_line_adds_lists_and_removes_webhooks(site, receiver):
    env = {"CASCADE_WEBHOOKS_ALLOW_PRIVATE": "true"}
    added = cascade(
        "webhooks", "add", "--site", str(site.pk), receiver.url, "--events", "run.finished", **env
    )
    assert "Secret (shown once" in added.stdout and "whsec_" in added.stdout
    listed = cascade("webhooks", "list", "--site", str(site.pk), **env)
    assert receiver.url in listed.stdout and "whsec_" not in listed.stdout
    bad = cascade(
        "webhooks",
        "add",
        "--site",
        str(site.pk),
        receiver.url,
        "--events",
        "run.exploded",
        check=False,
        **env,
    )
    assert bad.returncode != 0 and "events: Unknown event 'run.exploded'" in bad.stderr
    private = cascade("webhooks", "add", "--site", str(site.pk), receiver.url, check=False)
    assert private.returncode != 0 and "private" in private.stderr
    hook_id = webhooks.Webhook.objects.get().pk
    removed = cascade("webhooks", "remove", "--site", str(site.pk), str(hook_id), **env)
    assert "removed" in removed.stdout and not webhooks.Webhook.objects.exists()


@pytest.fixture
def mail(settings):
    server = MailReceiver().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.CASCADE_EMAIL_ENABLED = True
    yield server
    server.stop()


def test_owners_who_opt_in_are_emailed_about_pauses_and_runs_that_do_not_succeed(
    site, alice, erin, mail, client
):
    client.force_login(alice)
    page = client.get(f"/sites/{site.pk}/settings/notifications/")
    assert b'data-testid="email-form"' in page.content
    answer = client.post(
        f"/sites/{site.pk}/settings/notifications/email/",
        {"email": "on", "address": "alice@example.com"},
        follow=True,
    )
    assert b"alice@example.com" in answer.content

    # A run that succeeds: no email.
    run_to_end(site)
    send_all()
    assert mail.messages == []

    # A pause, then a cancellation (the outcome `cancelled`): one email each, to alice only.
    import_rows(site, keywords_of(DEMO)[40:50])
    run = engine.start_run(site)
    engine.pause_run(run.pk)
    engine.cancel_run(run.pk)
    send_all()
    assert [m["to"] for m in mail.messages] == [["alice@example.com"]] * 2
    paused, cancelled = (m["data"] for m in mail.messages)
    assert "Subject: Alice's Garden: Paused by a user" in paused
    assert "Subject: Alice's Garden: Cancelled" in cancelled
    assert f"/sites/{site.pk}/automation/" in cancelled

    # Turned off: nothing more.
    client.post(f"/sites/{site.pk}/settings/notifications/email/", {"address": ""})
    import_rows(site, keywords_of(DEMO)[50:55])
    engine.pause_run(engine.start_run(site).pk)
    send_all()
    assert len(mail.messages) == 2


def test_an_editor_cannot_opt_in_to_owner_email(site, erin, mail, client):
    client.force_login(erin)
    client.post(
        f"/sites/{site.pk}/settings/notifications/email/",
        {"email": "on", "address": "erin@example.com"},
    )
    assert not EmailOptIn.objects.exists()


def test_the_notifications_page_adds_a_webhook_and_shows_its_secret_once(
    hooks, site, alice, client, receiver
):
    client.force_login(alice)
    bad = client.post(
        f"/sites/{site.pk}/settings/notifications/", {"url": "ftp://x", "events": ["run.paused"]}
    )
    assert bad.status_code == 422 and b'data-testid="error-url"' in bad.content
    made = client.post(
        f"/sites/{site.pk}/settings/notifications/",
        {"url": receiver.url, "events": ["run.paused", "run.finished"]},
    )
    assert made.status_code == 201
    secret = made.context["secret"]
    assert secret.encode() in made.content
    engine.pause_run(engine.start_run(site).pk)
    send_all()
    assert receiver.received[0].signed_with(secret)
    page = client.get(f"/sites/{site.pk}/settings/notifications/")
    assert secret.encode() not in page.content
    assert b'data-testid="delivery"' in page.content and b"Delivered" in page.content


@pytest.fixture
def server(tmp_path, garden):
    with serving(
        tmp_path, CASCADE_WEBHOOKS_ALLOW_PRIVATE="true", CASCADE_WEBHOOK_BACKOFF="0.2"
    ) as server:
        yield server


@pytest.mark.browser
@pytest.mark.slow
def test_webhooks_are_managed_from_the_notifications_page(
    playwright_browser, login, server, alice, site, receiver
):
    page = login(playwright_browser, csp=True)
    page.goto(f"{server.url}/sites/{site.pk}/automation/")
    page.get_by_role("link", name="Settings").click()
    page.get_by_test_id("notifications-link").click()
    form = page.get_by_test_id("webhook-form")
    assert page.get_by_test_id("no-webhooks").is_visible() and form.is_visible()
    for bad, says in (("ftp://example.com", "http:// or https://"), ("", "http:// or https://")):
        page.get_by_test_id("webhook-url").fill(bad)
        page.get_by_test_id("add-webhook").click()
        assert says in page.get_by_test_id("error-url").inner_text()
    page.get_by_test_id("webhook-url").fill(receiver.url)
    page.get_by_test_id("add-webhook").click()
    secret = page.get_by_test_id("webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    shot(page, "14-webhook-added")

    engine.pause_run(engine.start_run(site).pk)  # the server's worker sends it
    wait_for(lambda: receiver.received, 30, 0.1, "the delivery")
    assert receiver.received[0].signed_with(secret)
    wait_for(lambda: Delivery.objects.get().status == "delivered", 10, 0.1, "delivered")
    page.goto(f"{server.url}/sites/{site.pk}/settings/notifications/")
    row = page.get_by_test_id("delivery").first
    assert "Delivered" in row.get_by_test_id("delivery-status").inner_text()
    assert secret not in page.content()
    row.get_by_test_id("redeliver").click()
    wait_for(lambda: len(receiver.received) == 2, 30, 0.1, "the redelivery")
    assert receiver.received[1].headers["x-cascade-delivery"] == str(
        Delivery.objects.get().delivery_id
    )
    shot(page, "14-webhook-deliveries")
    assert page.errors == []
