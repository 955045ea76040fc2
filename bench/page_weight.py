"""What the Automation page costs the network: requests and bytes to load it cold and warm, and
per minute while a run is live (the page this replaces made 17 calls every 5 s)."""

from __future__ import annotations

import json
import os
import sys

from common import ROOT, make_site, serve, setup_django

sys.path.insert(0, str(ROOT))
from tests.browser import launch  # noqa: E402  (the browser tests' own launcher)


def _name(url: str) -> str:
    """The page or file a URL names, e.g. "automation/" or "cascade/cascade.css"."""
    parts = url.split("?")[0].rstrip("/").rsplit("/", 2)
    return (
        f"{parts[-2]}/{parts[-1]}"
        if url.split("?")[0].endswith((".js", ".css", ".svg"))
        else f"{parts[-1]}/"
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    env = {"CASCADE_IMAGE_SCALE": "0.05", "CASCADE_AI_LATENCY": "1:0.05,2:0.3,4:0.6,5:0.2,6:0.2"}
    data = setup_django(**env)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cascade.accounts.models import Membership

    site = make_site("page weight", 300)
    user = get_user_model().objects.create_user("pageweight")
    Membership.objects.create(user=user, account=site.account, role="owner")
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    port = 8792
    server = serve(data, port, **env)
    from playwright.sync_api import sync_playwright

    try:
        url = f"http://127.0.0.1:{port}/sites/{site.pk}/automation/"
        with sync_playwright() as p:
            browser = launch(p)
            context = browser.new_context()
            context.add_cookies(
                [{"name": "sessionid", "value": session, "url": f"http://127.0.0.1:{port}"}]
            )
            page = context.new_page()
            log: list[tuple[str, int]] = []

            def done(response):
                try:
                    size = len(response.body())
                except Exception:
                    size = int(response.headers.get("content-length", 0) or 0)
                log.append((response.url, size))

            page.on("response", done)
            # What the stream costs on the wire (compressed), from the browser's own network log.
            wire = {"stream": None, "bytes": 0, "events": 0, "decoded": 0}
            by_event: dict[str, int] = {}  # decoded bytes by event name while measuring
            measuring = False
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")

            def sent(event):
                if event["request"]["url"].endswith("/automation/stream/"):
                    wire["stream"] = event["requestId"]

            def received(event):
                if event["requestId"] == wire["stream"]:
                    wire["bytes"] += event["encodedDataLength"]

            def message(event):  # each event of the stream, as the browser decoded it
                if event["requestId"] == wire["stream"]:
                    wire["events"] += 1
                    wire["decoded"] += len(event["data"].encode())
                    if measuring:
                        name = event["eventName"]
                        by_event[name] = by_event.get(name, 0) + len(event["data"].encode())

            cdp.on("Network.eventSourceMessageReceived", message)
            cdp.on("Network.requestWillBeSent", sent)
            cdp.on("Network.dataReceived", received)
            page.goto(url, wait_until="load")
            page.wait_for_timeout(1500)
            cold = list(log)
            log.clear()
            page.reload(wait_until="load")
            page.wait_for_timeout(1500)
            warm = list(log)
            log.clear()
            page.get_by_test_id("run-now").click()
            page.wait_for_timeout(2000)
            log.clear()
            before = dict(wire)
            measuring = True
            page.wait_for_timeout(seconds * 1000)
            measuring = False
            after = dict(wire)
            live = list(log)
            browser.close()
        per_minute = 60 / seconds
        print(
            json.dumps(
                {
                    "cold_requests": len(cold),
                    "cold_bytes": sum(s for _, s in cold),
                    "cold_by_url": {
                        u.split("?")[0].rsplit("/", 2)[-2]
                        + "/"
                        + u.split("?")[0].rsplit("/", 1)[-1]: s
                        for u, s in cold
                    },
                    "warm_requests": len(warm),
                    "warm_bytes": sum(s for _, s in warm),
                    "live_requests_per_minute": len(live) * per_minute,
                    "live_events_per_minute": (after["events"] - before["events"]) * per_minute,
                    "live_stream_bytes_per_minute": (after["decoded"] - before["decoded"])
                    * per_minute,
                    "live_stream_wire_bytes_per_minute": (after["bytes"] - before["bytes"])
                    * per_minute,
                    "live_bytes_per_minute_by_event": {
                        name: round(size * per_minute) for name, size in sorted(by_event.items())
                    },
                    "old_page_requests_per_minute": 17 * 12,
                    "measured_seconds": seconds,
                }
            )
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
