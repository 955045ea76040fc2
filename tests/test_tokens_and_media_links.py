"""API tokens with a lifetime, listed and revoked on the Account page; picture addresses in API
answers that a program can fetch with no session, for a while, and nobody can forge."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from cascade.accounts.models import ApiToken
from cascade.writer.models import Content
from tests.servers import cascade

pytestmark = pytest.mark.django_db(transaction=True)


def bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_create_token_gives_a_lifetime_and_an_expired_token_is_refused(alice):
    raw = cascade("create_token", "alice", "--label", "report", "--expires", "90d").stdout.strip()
    token = ApiToken.objects.get(user=alice, name="report")
    left = token.expires_at - timezone.now()
    assert timedelta(days=89) < left <= timedelta(days=90)
    assert bearer(raw).get("/api/v1/sites/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = bearer(raw).get("/api/v1/sites/")
    assert refused.status_code == 401
    forever = cascade("create_token", "alice").stdout.strip()
    assert ApiToken.objects.get(prefix=forever[:10]).expires_at is None
    bad = cascade("create_token", "alice", "--expires", "soon", check=False)
    assert bad.returncode != 0 and "12h, 90d, 2w, 1y, or never" in bad.stderr


def test_the_account_page_lists_makes_and_revokes_tokens(alice, bob, token_for):
    bobs = token_for(bob)
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/account/").content.decode()
    assert 'data-testid="no-tokens"' in page

    made = browser.post(
        "/account/tokens/", {"name": "nightly export", "expires": "30d"}, follow=True
    )
    assert made.redirect_chain and made["Cache-Control"] == "no-store"
    raw = re.search(r'data-testid="new-token-value">(csk_[^<]+)<', made.content.decode())[1]
    assert bearer(raw).get("/api/v1/sites/").status_code == 200
    listed = browser.get("/account/").content.decode()
    assert "nightly export" in listed and raw[:10] in listed and raw not in listed
    token = ApiToken.objects.get(user=alice)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)

    bad = browser.post("/account/tokens/", {"name": "x\u202ey", "expires": "30d"})
    assert bad.status_code == 422 and "invisible" in bad.content.decode()

    bobs_token = ApiToken.objects.get(user=bob)
    assert browser.post(f"/account/tokens/{bobs_token.pk}/revoke/").status_code == 404
    assert bearer(bobs).get("/api/v1/sites/").status_code == 200  # not alice's to revoke
    revoked = browser.post(f"/account/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 302
    assert bearer(raw).get("/api/v1/sites/").status_code == 401
    assert 'data-testid="no-tokens"' in browser.get("/account/").content.decode()


def test_picture_addresses_in_the_api_work_without_a_session_and_expire(written, api, settings):
    settings.CASCADE_MEDIA_LINK_SECONDS = 120
    article = Content.objects.filter(site=written).first()
    body = api.get(f"/api/v1/sites/{written.pk}/content/{article.pk}/").json()
    urls = [i["url"] for i in body["images"] if i["url"]]
    assert urls and all(f'src="{u.replace("&", "&amp;")}"' in body["html"] for u in urls)
    anonymous = Client()
    for url in urls:
        answer = anonymous.get(url)
        assert answer.status_code == 200 and answer["Content-Type"] == "image/png", url
        # kept by the browser no longer than the address lasts
        left = int(parse_qs(urlsplit(url).query)["expires"][0]) - time.time()
        age = int(answer["Cache-Control"].removeprefix("private, max-age="))
        assert 0 <= age <= min(3600, left + 1), answer["Cache-Control"]
    plain = urlsplit(urls[0]).path
    assert anonymous.get(plain).status_code == 404  # no session, no signature
    query = parse_qs(urlsplit(urls[0]).query)
    other = next(i for i in article.images.all() if i.file and str(i.file) not in urls[0])
    forged = f"/media/{other.file}?expires={query['expires'][0]}&signature={query['signature'][0]}"
    assert anonymous.get(forged).status_code == 404
    later = f"{plain}?expires={int(query['expires'][0]) + 60}&signature={query['signature'][0]}"
    assert anonymous.get(later).status_code == 404  # the expiry is signed too
    odd = f"{plain}?expires=\u00b2&signature={query['signature'][0]}"
    assert anonymous.get(odd).status_code == 404  # (a digit Python reads but cannot count)

    listed = api.get(f"/api/v1/sites/{written.pk}/images/?status=generated").json()["items"]
    assert listed and all("signature=" in i["url"] for i in listed)
    assert anonymous.get(listed[0]["url"]).status_code == 200

    settings.CASCADE_MEDIA_LINK_SECONDS = 1
    body = api.get(f"/api/v1/sites/{written.pk}/content/{article.pk}/").json()
    short = next(i["url"] for i in body["images"] if i["url"])
    time.sleep(2.1)
    expired = anonymous.get(short)
    assert expired.status_code == 404


@pytest.fixture
def server(tmp_path, garden):
    from tests.servers import Server

    with Server(log=tmp_path / "serve.log") as running:
        yield running


@pytest.mark.browser
def test_a_token_made_in_the_browser_is_shown_once_and_revoked(playwright_browser, login, server):
    from tests.browser import shot

    page = login(playwright_browser, width=1100)
    page.goto(f"{server.url}/account/")
    page.get_by_label("Name").fill("nightly export")
    page.get_by_label("Expires after").select_option("90d")
    page.get_by_role("button", name="Make a token").click()
    raw = page.get_by_test_id("new-token-value").inner_text()
    assert raw.startswith("csk_")
    assert page.get_by_test_id("token-row").count() == 1
    shot(page, "account-tokens")
    assert bearer(raw).get("/api/v1/sites/").status_code == 200
    page.goto(f"{server.url}/account/")
    assert page.get_by_test_id("new-token").count() == 0  # shown once
    page.get_by_role("button", name="Revoke nightly export").click()
    assert page.get_by_test_id("no-tokens").is_visible()
    assert bearer(raw).get("/api/v1/sites/").status_code == 401
