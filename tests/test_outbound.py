"""Calls to addresses a tenant chose (WordPress, webhooks) against receivers that misbehave on
purpose: a redirect to an internal address, a name that resolves elsewhere the second time, a
64 MiB answer, an answer that drips a byte at a time, and receivers that stall while a run is in
flight."""

from __future__ import annotations

import socket

import pytest

from cascade.automation import engine
from cascade.automation.models import AutomationRun
from cascade.automation.statuses import RunStatus
from cascade.automation.worker import EmbeddedWorker
from cascade.lib.net import refusal
from cascade.notify import sending, webhooks
from cascade.notify.models import Attempt, Delivery, Webhook
from cascade.writer.wordpress import Client, WordPressError
from tests.conftest import CELERY, CeleryWorkers, wait_for
from tests.receivers import RawReceiver, drip, huge, redirect_to, stall

pytestmark = pytest.mark.django_db(transaction=True)


def answer_json(receiver: RawReceiver, connection: socket.socket) -> None:
    body = b'{"id": 1, "name": "editor"}'
    head = (  # one request a connection (the receiver closes it), as the client is told
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n"
    )
    receiver.write(connection, head.encode() + b"\r\n" + body)


@pytest.fixture
def only_first_loopback(settings):
    """The operator allows one internal address (127.0.0.1) and no other."""
    settings.CASCADE_PUBLISH_ALLOW_PRIVATE = ("127.0.0.1/32",)
    settings.CASCADE_WEBHOOKS_ALLOW_PRIVATE = ("127.0.0.1/32",)


def test_a_redirect_is_checked_again_where_it_leads(only_first_loopback):
    inside = RawReceiver(answer_json, host="127.0.0.2")
    outside = RawReceiver(redirect_to(f"{inside.url}/wp-json/wp/v2/users/me"))
    try:
        with pytest.raises(WordPressError) as refused:
            Client(outside.url, "editor", "secret").me()
        assert "127.0.0.2" in refused.value.message
        assert "private or internal" in refused.value.message
        assert outside.seen >= 1 and inside.seen == 0
    finally:
        inside.close()
        outside.close()


def test_a_call_goes_to_the_address_it_checked(only_first_loopback, monkeypatch):
    """A name resolves once per connection: a DNS answer that changes between the check and
    the connection (rebinding) cannot send the call elsewhere."""
    allowed = RawReceiver(answer_json, host="127.0.0.1")
    internal = RawReceiver(answer_json, host="127.0.0.2", port=allowed.port)
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host, port, *args, **kwargs):
        if host != "blog.rebinding.test":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) <= 2 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        client = Client(f"http://blog.rebinding.test:{allowed.port}", "editor", "secret")
        # Lookup 1 checked the address given in the settings; lookup 2 is the first
        # connection's own (the REST probe); by the next connection the name has changed.
        with pytest.raises(WordPressError) as refused:
            client.me()
        assert "127.0.0.2" in refused.value.message, refused.value.message
        assert len(asked) == 3 and allowed.seen == 1 and internal.seen == 0
    finally:
        allowed.close()
        internal.close()


def refused_by_wordpress_client(receiver: RawReceiver) -> str:
    """What the WordPress client says when it refuses the receiver's answer."""
    with pytest.raises(WordPressError) as refused:
        Client(receiver.url, "editor", "secret").me()
    return refused.value.message


def test_at_most_one_mebibyte_of_an_answer_is_read(only_first_loopback):
    receiver = RawReceiver(huge)
    try:
        assert "larger than 1 MiB" in refused_by_wordpress_client(receiver)
        wait_for(lambda: receiver.finished == 1, what="the receiver to see the hang-up")
        assert receiver.sent < 32 * 2**20, receiver.sent
    finally:
        receiver.close()


def gzipped(receiver: RawReceiver, connection: socket.socket) -> None:
    """A small gzip answer that unpacks to 64 MiB."""
    import gzip

    body = gzip.compress(b" " * 64 * 2**20)
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    receiver.write(connection, head.encode() + body)


def test_a_compressed_answer_is_refused_before_it_is_unpacked(only_first_loopback):
    receiver = RawReceiver(gzipped)
    try:
        assert "compressed (gzip)" in refused_by_wordpress_client(receiver)
    finally:
        receiver.close()


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a00:5",
        "2002:7f00:1::",
        "::ffff:10.0.0.1",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "::ffff:0:7f00:1",  # IPv4-translated
        "64:ff9b:1::7f00:1",  # local-use NAT64
        "fec0::1",  # site-local (deprecated)
        "ff02::1",  # multicast
        "224.0.0.1",
    ],
)
def test_ipv6_addresses_that_lead_to_internal_ones_are_refused(address):
    """NAT64 (64:ff9b::a00:5 reaches 10.0.0.5), 6to4, IPv4-mapped and Teredo addresses are
    judged by the IPv4 address they lead to; other old or local IPv6 forms and multicast are
    refused."""
    assert refusal(address, False) == "a private or internal address"
    assert refusal("64:ff9b::808:808", False) is None  # 8.8.8.8 through NAT64
    assert refusal("2001:4860:4860::8888", False) is None


def add_hook(site, url: str) -> Webhook:
    return webhooks.add(site, url, ["run.finished"])[0]


def test_an_answer_that_drips_ends_at_the_deadline(site, only_first_loopback, settings):
    settings.CASCADE_WEBHOOK_TIMEOUT = 1.0
    receiver = RawReceiver(drip)
    try:
        add_hook(site, f"{receiver.url}/hook")
        webhooks.emit(site.pk, "run.finished", {"run_id": "r"})
        assert sending.send_once()
        attempt = Attempt.objects.get()
        assert attempt.status_code is None
        assert "no complete answer within 1 s" in attempt.error, attempt.error
        assert 0 < receiver.sent < 100, receiver.sent
    finally:
        receiver.close()


def test_stalling_receivers_do_not_hold_a_run(site, only_first_loopback, settings, tmp_path):
    """Every outbound thread is held by a receiver that does not answer; the run goes on to
    its end meanwhile, and the deliveries end once the receiver lets go."""
    settings.CASCADE_WEBHOOK_TIMEOUT = 300.0
    receiver = RawReceiver(stall)
    add_hook(site, f"{receiver.url}/hook")
    for number in range(3):  # one more than there are outbound threads
        webhooks.emit(site.pk, "run.finished", {"run_id": f"earlier-{number}"})
    if CELERY:
        workers = CeleryWorkers(
            1,
            tmp_path,
            CASCADE_WEBHOOK_TIMEOUT="300",
            CASCADE_WEBHOOKS_ALLOW_PRIVATE="127.0.0.1/32",
        )
    else:
        workers = EmbeddedWorker(threads=2, idle_wait=0.05, outbound=2)
        workers.start()
    try:
        wait_for(lambda: receiver.seen == 2, timeout=60, what="both outbound threads held")
        run = engine.start_run(site)
        wait_for(
            lambda: AutomationRun.objects.get(pk=run.pk).status == RunStatus.COMPLETED,
            timeout=240,
            what="the run to finish",
        )
        assert receiver.seen == 2 and receiver.finished == 0  # still held
        assert not Attempt.objects.exists()
        receiver.release.set()
        wait_for(lambda: Attempt.objects.count() >= 2, timeout=60, what="the held calls to end")
    finally:
        receiver.close()
        workers.stop()
    assert Delivery.objects.filter(event="run.finished").count() >= 3
