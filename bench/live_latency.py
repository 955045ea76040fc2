"""From an item's commit to the event that carries it at an SSE client (p50, p95), and the cost
of many viewers: N concurrent viewers of one running run, with the server's CPU, memory per
connection and the version checks spent on change detection."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from common import cascade_process, make_site, pct, serve, setup_django


async def viewer(
    port: int,
    path: str,
    token: str,
    received: list,
    ready: asyncio.Event | None,
    stop: asyncio.Event,
):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    await writer.drain()
    event = None
    try:
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), timeout=1.0)
            except TimeoutError:
                continue
            if not line:
                break
            text = line.decode().strip()
            if text.startswith("event: "):
                event = text[7:]
                if ready is not None and not ready.is_set():
                    ready.set()
            elif text.startswith("data: ") and event == "progress" and text != "data: null":
                doc = json.loads(text[6:])
                received.append(
                    (
                        time.time(),
                        sum(s["processed_count"] + s["failed_count"] for s in doc["stages"]),
                    )
                )
    finally:
        writer.close()


def proc_stats(pid: int) -> tuple[float, int]:
    """CPU seconds and resident bytes of a process (and its children are not counted)."""
    with open(f"/proc/{pid}/stat") as fh:
        parts = fh.read().split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[13]) + int(parts[14])) / ticks
    with open(f"/proc/{pid}/statm") as fh:
        rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


def latencies(run, received: list) -> list[float]:
    """For each item: its commit time to the first event received that includes it."""
    from cascade.automation.models import RunItem

    done = sorted(
        t.timestamp()
        for t in RunItem.objects.filter(run=run)
        .exclude(finished_at=None)
        .values_list("finished_at", flat=True)
    )
    out = []
    events = sorted(received)
    j = 0
    for i, committed in enumerate(done, start=1):
        while j < len(events) and (events[j][1] < i or events[j][0] < committed):
            j += 1
        if j < len(events):
            out.append(events[j][0] - committed)
    return out


async def measure(
    port: int, site, token: str, viewers: int, server_pid: int, seconds_cap: float = 120
) -> dict:
    from cascade.automation import engine
    from cascade.automation.models import AutomationRun
    from cascade.automation.statuses import FINISHED

    stop = asyncio.Event()
    streams = [[] for _ in range(viewers)]
    readies = [asyncio.Event() for _ in range(viewers)]
    path = f"/api/v1/automation/stream/?site_id={site.pk}"
    cpu0, rss0 = proc_stats(server_pid)
    tasks = [
        asyncio.create_task(viewer(port, path, token, streams[i], readies[i], stop))
        for i in range(viewers)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    _, rss1 = proc_stats(server_pid)
    stats0 = json.loads(await asyncio.to_thread(_get, port, "/healthz/live", token))
    cpu1, _ = proc_stats(server_pid)
    t0 = time.time()
    run = await asyncio.to_thread(engine.start_run, site)
    while time.time() - t0 < seconds_cap:
        await asyncio.sleep(0.5)
        status = await asyncio.to_thread(lambda: AutomationRun.objects.get(pk=run.pk).status)
        if status in FINISHED:
            break
    elapsed = time.time() - t0
    cpu2, _ = proc_stats(server_pid)
    stats1 = json.loads(await asyncio.to_thread(_get, port, "/healthz/live", token))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    first = await asyncio.to_thread(latencies, run, streams[0])
    last = await asyncio.to_thread(latencies, run, streams[-1])
    return {
        "viewers": viewers,
        "run_seconds": elapsed,
        "first_viewer_p50_ms": 1000 * pct(first, 50),
        "first_viewer_p95_ms": 1000 * pct(first, 95),
        "last_viewer_p50_ms": 1000 * pct(last, 50),
        "last_viewer_p95_ms": 1000 * pct(last, 95),
        "server_cpu_percent": 100 * (cpu2 - cpu1) / elapsed,
        "memory_per_connection_kb": (rss1 - rss0) / viewers / 1024,
        "version_checks_per_second": (stats1["checks"] - stats0["checks"]) / elapsed,
        "items": len(first),
    }


def _get(port: int, path: str, token: str) -> str:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    return urllib.request.urlopen(request, timeout=10).read().decode()


def main() -> None:
    mode, viewers, keywords = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    env = {
        "CASCADE_IMAGE_SCALE": "0.05",
        "CASCADE_AI_LATENCY": "1:0.01,2:0.05,4:0.08,5:0.02,6:0.03",
        # Every simulated viewer uses the same (staff) token.
        "CASCADE_STREAMS_PER_USER": "1000",
    }
    if mode == "celery":
        env.update(
            CASCADE_EXECUTOR="celery"
        )  # DATABASE_URL and CELERY_BROKER_URL come from the caller
    data = setup_django(**env)
    from django.contrib.auth import get_user_model

    from cascade.accounts.models import ApiToken, Membership

    site = make_site(f"live {time.time()}", keywords)
    user = get_user_model().objects.create_user(f"viewer{time.time()}", is_staff=True)
    Membership.objects.create(user=user, account=site.account, role="owner")
    _, token = ApiToken.issue(user)
    port = 8790 if mode == "embedded" else 8791
    procs = [serve(data, port, **env)]
    if mode == "celery":
        for i in range(2):
            name = f"bench{i}-{os.getpid()}@%h"
            procs.append(
                cascade_process(data, "worker", "--concurrency", "2", "--name", name, **env)
            )
    try:
        time.sleep(2 if mode == "celery" else 0)
        print(
            json.dumps(
                {"mode": mode, **asyncio.run(measure(port, site, token, viewers, procs[0].pid))}
            )
        )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)


if __name__ == "__main__":
    main()
