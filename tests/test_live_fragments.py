"""The Automation page's live layer is htmx's own: each live fragment is a partial that fills one
slot of the page (`sse-swap="<name>"`) and travels as the stream's event of that name, sent only
when its rendering changed since the viewer's previous event, states in version order, every
fragment to a new or reconnecting viewer. An action's answer comes once the stream has sent its
effect."""

from __future__ import annotations

import http.client
import re
import time
import zlib
from pathlib import Path

import pytest
from django.test import Client

from cascade.automation import engine, fragments, page
from cascade.automation.models import AutomationRun
from tests.browser import shot
from tests.conftest import CELERY, start_workers
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
SLOT = re.compile(r'<(div|span) [^>]*sse-swap="([a-z0-9-]+)"[^>]*>')


def slots_of(html: str) -> dict[str, str]:
    """Each slot of a page (its `sse-swap` name) and the markup it holds, read by matching the
    slot's own closing tag (slots hold no element of their own kind unbalanced)."""
    found = {}
    for match in SLOT.finditer(html):
        tag, name = match[1], match[2]
        depth, at = 1, match.end()
        for inner in re.finditer(rf"<(/?){tag}\b[^>]*>", html[at:]):
            depth += -1 if inner[1] else 1
            if depth == 0:
                found[name] = html[at : at + inner.start()].strip()
                break
    return found


def test_the_page_renders_every_fragment_in_its_slot(site, alice):
    """Over a whole run, each fragment the stream would send is exactly what the page has in the
    slot of that name, and the page has a slot for every fragment and no other."""
    client = Client()
    client.force_login(alice)
    engine.start_run(site)
    moments = 0
    while True:
        sent = page.live_fragments(site, True)
        html = client.get(f"/sites/{site.pk}/automation/").content.decode()
        slots = slots_of(html)
        assert set(slots) == set(sent.parts) | {"ping"}, set(slots) ^ set(sent.parts)
        for name, markup in sent.parts.items():
            assert slots[name] == markup, name
        moments += 1
        if not engine.work_once():
            break
    assert moments > 5 and AutomationRun.objects.get().outcome == "succeeded"
    assert {f"stage-{n}" for n in range(1, 8)} <= set(sent.parts)


def test_only_the_fragments_that_changed_are_sent(site):
    """From one state to the next, a viewer gets the fragments whose rendering changed, and
    they bring it exactly to the new state; a new viewer gets every fragment once."""
    engine.start_run(site)
    states = [page.live_fragments(site, True)]
    while engine.work_once():
        states.append(page.live_fragments(site, True))
    assert dict(fragments.changed(states[0], None)) == states[0].parts
    viewer, sent, whole = dict(states[0].parts), 0, 0
    for before, after in zip(states, states[1:], strict=False):
        changes = dict(fragments.changed(after, before))
        assert all(before.parts.get(n) != m for n, m in changes.items())
        viewer.update(changes)
        assert viewer == after.parts
        sent += sum(map(len, changes.values()))
        whole += sum(map(len, after.parts.values()))
    assert sent < whole / 2, (sent, whole)


def _events(response):
    """(event, data, compressed bytes so far) from a gzip-compressed event stream."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    buffer, wire = "", 0
    while True:
        chunk = response.read1(65536)
        if not chunk:
            return
        wire += len(chunk)
        buffer += inflate.decompress(chunk).decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields: dict[str, list[str]] = {}
            for line in block.split("\n"):
                name, _, value = line.partition(": ")
                fields.setdefault(name, []).append(value)
            if "event" in fields:
                assert "id" not in fields, "events carry no ids"
                yield fields["event"][0], "\n".join(fields["data"]), wire


def _connect(server, site, client):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request(
        "GET",
        f"/sites/{site.pk}/automation/stream/",
        headers={
            "Cookie": f"sessionid={client.cookies['sessionid'].value}",
            "Accept-Encoding": "gzip, deflate, br",
        },
    )
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    return response


VERSION = re.compile(r'data-run-id="([^"]*)" data-version="(\d+)"')


@pytest.mark.engine(latency={1: 0.02, 2: 0.1, 4: 0.15, 5: 0.05, 6: 0.05})
def test_the_page_stream_sends_named_fragments_in_version_order(site, alice, tmp_path):
    client = Client()
    client.force_login(alice)
    # (no byte budget here: every state of the run reaches the viewer)
    server = Server(log=tmp_path / "serve.log", CASCADE_PAGE_KIB_PER_MINUTE="100000").start()
    workers = start_workers(tmp_path) if CELERY else None
    try:
        response = _connect(server, site, client)
        expected = set(page.live_fragments(site, True).parts)
        viewer: dict[str, str] = {}
        first: list[str] = []
        names: list[str] = []
        versions: list[tuple[str, int]] = []
        plain, wire = 0, 0
        deadline = time.monotonic() + 120
        final = None
        for name, data, received in _events(response):
            if time.monotonic() > deadline:
                differ = [
                    k for k, v in (final.parts if final else {}).items() if viewer.get(k) != v
                ]
                pytest.fail(
                    f"the viewer never matched the server's rendering: {differ or 'no end'}"
                )
            wire = received
            if name == "ping":
                if "state" in viewer and 'data-run-status="completed"' in viewer["state"]:
                    final = page.live_fragments(site, True)
                    if final.parts == viewer:
                        break
                continue
            plain += len(data.encode())
            viewer[name] = data
            if set(first) < expected:  # the connection's first state: every fragment once
                first.append(name)
                if set(first) == expected:
                    engine.start_run(site)
                continue
            names.append(name)
            if name == "state":
                run_id, version = VERSION.search(data).groups()
                versions.append((run_id, int(version)))
            if 'data-run-status="completed"' in viewer["state"]:
                final = page.live_fragments(site, True)
                if final.parts == viewer:  # the viewer has what the server renders now
                    break
        response.close()
        run = AutomationRun.objects.get()
    finally:
        server.stop()
        if workers:
            workers.stop()
    assert sorted(first) == sorted(final.parts) and len(first) == len(set(first)), first
    assert {r for r, _ in versions} == {str(run.run_id)}
    run_versions = [v for _, v in versions]
    assert run_versions == sorted(run_versions) and run_versions[-1] == run.version
    assert len(run_versions) >= 5, run_versions
    # Each update carried only what changed: far fewer events than fragments times updates.
    assert len(names) < len(final.parts) * len(run_versions) / 2, (len(names), len(run_versions))
    assert names.count("stage-7") < names.count("state")
    assert wire < plain / 3, (wire, plain)


def test_a_reconnecting_viewer_gets_every_fragment_once(site, alice, tmp_path):
    engine.start_run(site)
    engine.work_once()
    client = Client()
    client.force_login(alice)
    with Server(log=tmp_path / "serve.log", CASCADE_AI_LATENCY="1:0.5") as server:
        for _ in range(2):
            response = _connect(server, site, client)
            got: list[str] = []
            expected = set(page.live_fragments(site, True).parts)
            for name, _data, _wire in _events(response):
                if name != "ping":
                    got.append(name)
                if set(got) >= expected:
                    break
            response.close()
            assert sorted(got) == sorted(expected), got


@pytest.fixture
def server(tmp_path, site):
    with Server(
        log=tmp_path / "serve.log", CASCADE_AI_LATENCY="2:0.3,4:0.3,5:0.05,6:0.05"
    ) as server:
        yield server


@pytest.mark.browser
def test_a_click_is_answered_after_the_page_shows_its_effect(
    playwright_browser, login, site, server
):
    """Run Now shows the run starting while the server starts it, and pause and resume are
    answered only once the stream has brought the page their effect: when the click's request
    ends, the page already says so. At the end the page equals a fresh load of it."""
    browser_page = login(playwright_browser)
    browser_page.goto(f"{server.url}/sites/{site.pk}/automation/")
    browser_page.wait_for_function(
        "document.getElementById('connection').dataset.state === 'live'", timeout=10_000
    )
    status = "() => document.querySelector('[data-testid=run-status]:not(#starting-global-bar *)')"
    with browser_page.expect_response(lambda r: "/actions/run-now/" in r.url):
        browser_page.get_by_test_id("run-now").click()
    assert browser_page.evaluate(f"({status})() !== null")
    browser_page.wait_for_function(
        "+document.getElementById('live-state').dataset.version >= 3", timeout=60_000
    )
    with browser_page.expect_response(lambda r: "/actions/pause/" in r.url) as answer:
        browser_page.get_by_test_id("pause").click()
    assert answer.value.status == 200
    text = browser_page.evaluate(f"({status})().textContent")
    assert text.startswith(("Pausing", "Paused")), text
    browser_page.wait_for_function(f"({status})().textContent.startsWith('Paused')", timeout=30_000)
    with browser_page.expect_response(lambda r: "/actions/resume/" in r.url):
        browser_page.get_by_test_id("resume").click()
    text = browser_page.evaluate(f"({status})().textContent")
    assert not text.startswith("Paused"), text
    browser_page.get_by_test_id("pause").click()
    browser_page.wait_for_function(f"({status})().textContent.startsWith('Paused')", timeout=30_000)
    browser_page.wait_for_timeout(1000)
    shot(browser_page, "13-paused-live-fragments")
    same = browser_page.evaluate(SAME_AS_FRESH_LOAD, f"/sites/{site.pk}/automation/")
    assert same["live"] == same["fresh"], same
    assert not browser_page.errors, browser_page.errors


@pytest.mark.browser
def test_run_now_s_starting_state_stays_until_the_stream_shows_the_run(
    playwright_browser, login, site, server
):
    """The click's answer can reach the browser before the stream's event that shows the new run
    (two connections; or another server process serves the stream): the starting state stays on
    the page until the run's own bar replaces it, so the whole-run bar never leaves the page."""
    browser_page = login(playwright_browser)
    browser_page.goto(f"{server.url}/sites/{site.pk}/automation/")
    browser_page.wait_for_function(
        "document.getElementById('connection').dataset.state === 'live'", timeout=10_000
    )
    # The stream's events are held back (dropped) from the click until well after its answer;
    # from the click on, every moment the page has no visible whole-run bar is counted.
    browser_page.evaluate("""() => {
      window.__hold = window.__clicked = false; window.__gone = 0;
      document.body.addEventListener('htmx:sseBeforeMessage', (e) => { if (window.__hold) e.preventDefault(); });
      const check = () => {
        if (!window.__clicked) return;
        const shown = [...document.querySelectorAll('[data-testid$=global-progress]')].filter(g => g.checkVisibility());
        if (!shown.length) window.__gone += 1;
      };
      new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true});
      document.querySelector('[data-testid=run-now]').addEventListener('click', () => { window.__hold = window.__clicked = true; }, {capture: true});
    }""")
    with browser_page.expect_response(lambda r: "/actions/run-now/" in r.url) as answer:
        browser_page.get_by_test_id("run-now").click()
    assert answer.value.status == 200
    browser_page.wait_for_timeout(1000)
    starting = browser_page.get_by_test_id("starting-global-progress")
    assert starting.is_visible(), "the starting state went away before the stream showed the run"
    assert browser_page.evaluate("window.__gone") == 0
    browser_page.evaluate("window.__hold = false")
    browser_page.wait_for_function(
        "document.querySelector('[data-testid=global-progress]')?.checkVisibility()",
        timeout=30_000,
    )
    assert not starting.is_visible()
    assert browser_page.evaluate("window.__gone") == 0, "the whole-run bar left the page"
    assert not browser_page.errors, browser_page.errors


# The text and the numbers (data-*) of the page's live region, and of a fresh load of the page:
# the same when every fragment landed in its slot (white space between blocks aside: a morph
# keeps no whitespace-only text between elements).
SAME_AS_FRESH_LOAD = """async (url) => {
  const read = (root) => ({
    text: root.querySelector('#live').textContent.replace(/\\s+/g, ''),
    data: [...root.querySelectorAll('#live [data-testid]')].map(e => JSON.stringify(e.dataset)),
  });
  const html = await (await fetch(url)).text();
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const ticking = (root) => root.querySelectorAll('[data-ticking=true]').forEach(e => e.textContent = '');
  ticking(document); ticking(doc);
  return {live: read(document), fresh: read(doc)};
}"""


def test_the_live_layer_is_htmx_s_own():
    """No comment markers, regular-expression diffs, delta ids, version header or EventSource
    factory override; the page's script keeps only clocks and notifications."""
    script = (ROOT / "cascade/automation/static/cascade/automation.js").read_text()
    assert len(script.splitlines()) <= 80
    for gone in ("createEventSource", "lastEventId", "X-Cascade-State", "delta", "htmx.ajax"):
        assert gone not in script, gone
    code = "".join(p.read_text() for p in (ROOT / "cascade").rglob("*.py"))
    templates = "".join(p.read_text() for p in (ROOT / "cascade").rglob("*.html"))
    for gone in ("X-Cascade-State", "<!--f-->", 'hx-swap-oob="morph"', "patch_from"):
        assert gone not in code + templates, gone
    assert "{% fragment" not in templates


@pytest.mark.engine(latency={1: 0.05, 2: 0.3, 4: 0.5, 5: 0.1, 6: 0.1})
def test_a_page_viewer_gets_no_more_than_its_byte_budget(site, alice, tmp_path):
    """After its first state, a viewer of a busy run gets on average no more markup than
    CASCADE_PAGE_KIB_PER_MINUTE allows (here 120 KiB): each state waits for the one before it
    to be paid for. (A slower machine only sends less.)"""
    client = Client()
    client.force_login(alice)
    budget = 120 * 1024 / 60  # bytes a second
    with Server(
        log=tmp_path / "serve.log",
        CASCADE_PAGE_KIB_PER_MINUTE="120",
        CASCADE_AI_LATENCY="1:0.05,2:0.3,4:0.5,5:0.1,6:0.1",
    ) as server:
        workers = start_workers(tmp_path) if CELERY else None
        try:
            response = _connect(server, site, client)
            expected = set(page.live_fragments(site, True).parts)
            seen: set[str] = set()
            states: list[tuple[float, int]] = []  # (received at, bytes) of each later state
            for name, data, _wire in _events(response):
                if name == "ping":
                    continue
                if seen != expected:
                    seen.add(name)
                    if seen == expected:
                        engine.start_run(site)
                    continue
                size = len(f"event: {name}\n") + sum(
                    len(f"data: {line}\n".encode()) for line in data.splitlines()
                )
                now = time.monotonic()
                if states and now - states[-1][0] < 0.05:  # the same state's next event
                    states[-1] = (states[-1][0], states[-1][1] + size + 1)
                else:
                    states.append((now, size + 1))
                if len(states) >= 4 or 'data-run-status="completed"' in data:
                    break
            response.close()
        finally:
            if workers:
                workers.stop()
    assert len(states) >= 3, states
    for i in range(1, len(states)):
        paid = sum(size for _, size in states[:i]) / budget
        assert states[i][0] - states[0][0] >= paid - 0.5, (i, states)
