from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from cascade.automation.models import AutomationRun

pytestmark = pytest.mark.django_db(transaction=True)


def post(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_twenty_simultaneous_run_now_clicks_create_exactly_one_run(
    site, alice, token_for, live_server
):
    token = token_for(alice)
    url = f"{live_server.url}/api/v1/automation/run_now/?site_id={site.pk}"
    barrier = threading.Barrier(20)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def click():
        barrier.wait()
        answer = post(url, token)
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=click) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * 19, codes
    created = next(body["run_id"] for code, body in results if code == 201)
    assert {body["run_id"] for code, body in results if code == 409} == {created}
    assert all("already active" in body["detail"] for code, body in results if code == 409)
    assert AutomationRun.objects.count() == 1
