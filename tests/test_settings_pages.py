from __future__ import annotations

import re

import pytest
from django.test import Client

from cascade.automation import config as run_config
from cascade.automation.stages import registry

pytestmark = pytest.mark.django_db

SECRET = "sk-live-0123456789abcdefWXYZ"


def test_site_settings_round_trip_through_the_api(api, site):
    response = api.put(
        f"/api/v1/sites/{site.pk}/settings/",
        {
            "tone": "warm and expert",
            "audience": "new gardeners",
            "language": "German",
            "target_words": 900,
        },
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "tone": "warm and expert",
        "audience": "new gardeners",
        "language": "German",
        "target_words": 900,
    }
    assert run_config.load(site)["target_words"] == 900
    bad = api.put(
        f"/api/v1/sites/{site.pk}/settings/", {"target_words": 10}, content_type="application/json"
    )
    assert bad.status_code == 422 and "target_words" in bad.json()["detail"]
    for blank in ({"language": None}, {"tone": None}, {"language": "   "}):
        refused = api.put(
            f"/api/v1/sites/{site.pk}/settings/", blank, content_type="application/json"
        )
        assert refused.status_code == 422, blank
    site.refresh_from_db()
    assert site.language == "German" and site.tone == "warm and expert"


def test_the_site_settings_page_saves_and_validates(client, alice, site):
    client.force_login(alice)
    page = client.get(f"/sites/{site.pk}/settings/")
    assert page.status_code == 200 and "Writing" in page.content.decode()
    form = {
        "tone": "playful",
        "audience": "kids",
        "language": "English",
        "target_words": "800",
        "ideas_per_cluster": "3",
        "images_per_content": "2",
        **{f"stage_{n}": "on" for n in registry().numbers},
    }
    saved = client.post(f"/sites/{site.pk}/settings/", form, follow=True)
    assert "Settings saved." in saved.content.decode()
    site.refresh_from_db()
    assert site.tone == "playful" and run_config.load(site)["target_words"] == 800
    wrong = client.post(
        f"/sites/{site.pk}/settings/", {**form, "tone": "x", "target_words": "lots"}
    )
    assert wrong.status_code == 422
    assert "A whole number between 300 and 5,000." in wrong.content.decode()
    site.refresh_from_db()
    assert site.tone == "playful", "a refused form changes nothing"
    # A stage's batch size is marked on its own row (the optional field's error names it deep).
    for typed in ("abc", "0", "1001"):
        wrong = client.post(f"/sites/{site.pk}/settings/", {**form, "batch_4": typed})
        assert wrong.status_code == 422
        marked = re.search(r'data-testid="error-batch_4">([^<]+)<', wrong.content.decode())
        assert marked and marked[1] == "A whole number between 1 and 1,000.", typed
        assert f'value="{typed}"' in wrong.content.decode()  # what was typed stays to be mended


def test_a_viewer_cannot_change_site_settings(carol, site):
    client = Client()
    client.force_login(carol)
    assert (
        client.post(f"/sites/{site.pk}/settings/", {"tone": "x", "target_words": "900"}).status_code
        == 403
    )


def test_the_account_key_is_stored_encrypted_and_shown_only_as_a_hint(
    client, alice, site, settings
):
    settings.CASCADE_AI_PROVIDER = "openai"
    client.force_login(alice)
    saved = client.post("/account/", {"api_key": SECRET}, follow=True)
    page = saved.content.decode()
    assert "API key saved (ending …WXYZ)." in page
    assert 'data-testid="key-unused"' not in page
    assert SECRET not in page
    site.account.refresh_from_db()
    assert SECRET not in site.account.ai_api_key_encrypted
    assert site.account.ai_key() == SECRET
    assert SECRET not in client.get("/account/").content.decode()
    client.post("/account/", {"clear": "1"})
    site.account.refresh_from_db()
    assert site.account.ai_key() is None and site.account.ai_api_key_hint == ""


def test_a_key_saved_on_an_offline_server_says_it_is_unused(client, alice, site, settings):
    settings.CASCADE_AI_PROVIDER = "local"
    client.force_login(alice)
    page = client.post("/account/", {"api_key": SECRET}, follow=True).content.decode()
    assert "API key saved (ending …WXYZ), but it is not used yet" in page
    assert 'data-testid="key-unused"' in page and "CASCADE_AI_PROVIDER=openai" in page


def test_a_new_site_writes_for_any_reader_until_told_its_audience(api):
    """A new site is not assumed to be a home-and-garden one: its audience is empty (the
    writers then address readers in general) until its owner names one."""
    created = api.post("/api/v1/sites/", {"name": "Spoke & Chain"}, content_type="application/json")
    assert created.status_code == 201
    settings_doc = api.get(f"/api/v1/sites/{created.json()['id']}/settings/").json()
    assert settings_doc["audience"] == ""
