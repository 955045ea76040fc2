"""The Automation page's stream sends the whole live region once, then only the fragments that
changed (htmx out-of-band swaps), compressed with gzip when the browser accepts it; a viewer
whose page shows another state than a delta's base gets the whole region again."""

from __future__ import annotations

import http.client
import time
import zlib
from html.parser import HTMLParser

import pytest
from django.test import Client

from cascade.automation import engine, fragments, page
from cascade.automation.models import AutomationRun
from tests.browser import shot
from tests.conftest import CELERY, start_workers
from tests.servers import Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _TopLevel(HTMLParser):
    """The top-level elements of a piece of markup: (id, their markup), read by a real HTML
    parser rather than by the code under test."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=False)
        self.markup, self.depth, self.found = markup, 0, []
        self.lines = [0]
        for line in markup.splitlines(keepends=True):
            self.lines.append(self.lines[-1] + len(line))
        self.feed(markup)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.lines[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            self.found.append([dict(attrs).get("id"), self._offset(), None])
        if tag not in VOID:
            self.depth += 1

    def handle_endtag(self, tag):
        self.depth -= 1
        if self.depth == 0:
            end = self.markup.index(">", self._offset()) + 1
            self.found[-1][2] = end

    def elements(self) -> list[tuple[str, str]]:
        return [(id_, self.markup[start:end]) for id_, start, end in self.found]


def apply(region: str, patch: str) -> str:
    """What a browser's out-of-band swaps make of `region`: each element of the patch replaces
    the element of the same id (which must exist)."""
    for element_id, markup in _TopLevel(patch).elements():
        assert element_id, markup[:80]
        markup = markup.replace(' hx-swap-oob="morph"', "", 1)
        old = dict(_TopLevel(_inner(region, element_id)).elements())
        assert element_id in old, f"#{element_id} is not on the page"
        region = region.replace(old[element_id], markup, 1)
    return region


def _inner(region: str, element_id: str) -> str:
    """The markup from the element with this id to the end of the region's top level it is in:
    enough for the parser to find the element's own end."""
    start = region.index(f' id="{element_id}"')
    return region[region.rindex("<", 0, start) :]


def test_each_patch_turns_one_rendering_into_the_next(site, alice):
    """Over a whole run, rendered after every unit of work: the patch applied to the region a
    viewer has gives exactly the next region, and it is much smaller than the region."""
    engine.start_run(site)
    regions = [page.live_region(site, True)]
    while engine.work_once():
        regions.append(page.live_region(site, True))
    regions.append(page.live_region(site, True))
    assert AutomationRun.objects.get().outcome == "succeeded"
    patched = whole = 0
    for before, after in zip(regions, regions[1:], strict=False):
        patch = fragments.patch(before, after)
        if patch is None:  # the region changed shape (e.g. the run finished): sent whole
            assert before.shape != after.shape
            continue
        assert apply(before.html, patch) == after.html
        patched, whole = patched + len(patch), whole + len(after.html)
    assert whole, "no update could be sent as a patch"
    assert patched < whole / 2, (patched, whole)


def test_a_patch_is_refused_when_the_region_changes_shape():
    a = fragments.split(
        '<div><!--f--><p id="x">1</p><!--/f--><!--f--><p id="y">2</p><!--/f--></div>'
    )
    b = fragments.split(
        '<div><!--f--><p id="x">1</p><!--/f--><!--f--><p id="y">3</p><!--/f--></div>'
    )
    c = fragments.split('<div><!--f--><p id="x">1</p><!--/f--></div>')
    d = fragments.split(
        '<section><!--f--><p id="x">1</p><!--/f--><!--f--><p id="y">2</p><!--/f--></section>'
    )
    assert fragments.patch(a, b) == '<p hx-swap-oob="morph" id="y">3</p>'
    assert fragments.patch(a, a) == ""
    assert fragments.patch(a, c) is None and fragments.patch(a, d) is None
    with pytest.raises(ValueError):
        fragments.split("<!--f--><p>no id</p><!--/f-->")


def _events(response):
    """(event, id, data) from a gzip-compressed event stream, decompressed as it arrives."""
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
                yield fields["event"][0], fields.get("id", [""])[0], "\n".join(fields["data"]), wire


@pytest.mark.engine(latency={1: 0.02, 2: 0.1, 4: 0.15, 5: 0.05, 6: 0.05})
def test_the_page_stream_sends_the_region_then_compressed_deltas(site, alice, tmp_path):
    client = Client()
    client.force_login(alice)
    server = Server(log=tmp_path / "serve.log").start()
    workers = start_workers(tmp_path) if CELERY else None
    try:
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
        assert "Accept-Encoding" in response.getheader("Vary")
        seen: list[tuple[str, str]] = []
        region, plain, wire = "", 0, 0
        deadline = time.monotonic() + 120
        for name, event_id, data, received in _events(response):
            assert time.monotonic() < deadline, "the run did not finish in time"
            wire = received  # compressed bytes so far
            if name == "ping":
                continue
            plain += len(data.encode())
            if name == "update":
                region = data
            else:
                assert name == "delta"
                key, base = event_id.split(" from ")
                assert base == seen[-1][1], "a delta is made for the viewer's last state"
                region = apply(region, data)
                event_id = key
            seen.append((name, event_id))
            if len(seen) == 1:
                engine.start_run(site)
            if 'data-run-status="completed"' in region:
                # Done once the viewer has the version the server renders now.
                final = client.get(f"/sites/{site.pk}/automation/live/")
                if f'data-state="{final["X-Cascade-State"]}"' in region:
                    break
        response.close()
        run = AutomationRun.objects.get()
        assert final["X-Cascade-State"] == f"{run.run_id}:{run.version}"
    finally:
        server.stop()
        if workers:
            workers.stop()
    names = [name for name, _ in seen]
    assert names[0] == "update" and names.count("delta") >= 10, names
    # What the viewer put together is exactly what the server renders for the finished run.
    rendered = final.content.decode()
    rendered = rendered[: rendered.index('<div id="flash"')]
    assert region.strip() == rendered.strip()  # (SSE data ends without a newline)
    assert wire < plain / 4, (wire, plain)


@pytest.fixture
def server(tmp_path, site):
    with Server(
        log=tmp_path / "serve.log", CASCADE_AI_LATENCY="2:0.3,4:0.3,5:0.05,6:0.05"
    ) as server:
        yield server


@pytest.mark.browser
def test_a_page_showing_another_state_than_a_deltas_base_gets_the_whole_region(
    playwright_browser, login, site, server
):
    """An action's own answer (or the polling fallback) can leave the page showing another state
    than the one the stream's next delta was made for; the page then asks the stream for the
    whole region instead of patching a state it does not show, and ends where the server is."""
    browser_page = login(playwright_browser)
    browser_page.add_init_script(COUNT_EVENTS)
    browser_page.goto(f"{server.url}/sites/{site.pk}/automation/")
    browser_page.wait_for_function(
        "document.getElementById('connection').dataset.state === 'live'", timeout=10_000
    )
    browser_page.get_by_test_id("run-now").click()
    browser_page.wait_for_function("window.__events.delta >= 5", timeout=60_000)
    # The page says it shows another state than the stream's last one; then a delta comes.
    browser_page.evaluate(
        """() => { const s = document.getElementById('live-state');
                   s.dataset.state = s.dataset.runId + ':' + (+s.dataset.version - 1); }"""
    )
    browser_page.wait_for_function("window.__events.opened >= 2", timeout=10_000)
    browser_page.get_by_test_id("pause").click()
    browser_page.wait_for_function(
        "document.querySelector('[data-testid=run-status]').textContent.startsWith('Paused')",
        timeout=30_000,
    )
    browser_page.wait_for_timeout(1500)
    shot(browser_page, "13-paused-after-deltas")
    same = browser_page.evaluate(SAME_AS_SERVER, f"/sites/{site.pk}/automation/live/")
    assert same["live"] == same["server"], same
    assert browser_page.evaluate("window.__events.delta") >= 5
    assert not browser_page.errors, browser_page.errors


COUNT_EVENTS = """(() => {
  window.__events = {update: 0, delta: 0, opened: 0};
  const Real = window.EventSource;
  window.EventSource = function (url, opts) {
    const source = new Real(url, opts);
    window.__events.opened += 1;
    for (const name of ["update", "delta"]) source.addEventListener(name, () => { window.__events[name] += 1; });
    return source;
  };
  window.EventSource.prototype = Real.prototype;
  window.EventSource.CLOSED = Real.CLOSED;
})();"""

# The text and the numbers (data-*) of the page's live region, and of the server's rendering
# of it now: the same when every delta landed where it belonged.
SAME_AS_SERVER = """async (url) => {
  const read = (root) => ({
    text: root.querySelector('#live').textContent.replace(/\\s+/g, ' ').trim(),
    data: [...root.querySelectorAll('#live [data-testid]')].map(e => JSON.stringify(e.dataset)),
  });
  const html = await (await fetch(url)).text();
  const doc = new DOMParser().parseFromString(`<div>${html}</div>`, 'text/html');
  const ticking = (root) => root.querySelectorAll('[data-ticking=true]').forEach(e => e.textContent = '');
  ticking(document); ticking(doc);
  return {live: read(document), server: read(doc)};
}"""
