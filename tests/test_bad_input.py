from __future__ import annotations

import json

import pytest

from cascade.planner.models import Keyword

pytestmark = pytest.mark.django_db


def post_json(api, site, rows):
    return api.post(
        f"/api/v1/sites/{site.pk}/keywords/", {"keywords": rows}, content_type="application/json"
    )


def post_csv(api, site, data: bytes):
    return api.post(f"/api/v1/sites/{site.pk}/keywords/", data, content_type="text/csv")


def test_bad_rows_are_rejected_one_by_one_with_reasons(api, site):
    before = Keyword.objects.filter(site=site).count()
    rows = [
        {"keyword": "good new keyword"},
        {"keyword": ""},
        {"keyword": "   "},
        {"keyword": "x" * 10_240},
        {"keyword": "bell\x07 character"},
        {"keyword": "nul\x00byte"},
        {"keyword": "Good   NEW keyword"},
        {"keyword": "How to grow tomatoes in pots"},  # already in the site
        {"keyword": 42},
        {"keyword": "ok volume", "volume": "lots"},
        {"keyword": "bad difficulty", "difficulty": 300},
        {"keyword": "bad intent", "intent": "curious"},
        {"volume": 10},
        "not an object",
    ]
    response = post_json(api, site, rows)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] == 1
    assert body["duplicates"] == 2
    reasons = {r["row"]: r["reason"] for r in body["rejected"]}
    assert reasons == {
        2: "keyword is empty",
        3: "keyword is empty",
        4: "keyword is too long (10240 characters; at most 200)",
        5: "keyword contains a control character (U+0007)",
        6: "keyword contains a control character (U+0000)",
        9: "keyword must be text",
        10: "volume must be a whole number, got 'lots'",
        11: "difficulty must be between 0 and 100",
        12: "intent must be one of commercial, informational, navigational, transactional",
        13: "keyword is missing",
        14: "each row must be an object with a 'keyword' field",
    }
    assert Keyword.objects.filter(site=site).count() == before + 1
    stored = Keyword.objects.filter(site=site).values_list("keyword", flat=True)
    assert not [k for k in stored if any(ord(c) < 32 for c in k) or len(k) > 200]


def test_csv_imports_judge_duplicates_case_and_space_insensitively(api, site):
    data = b"keyword,volume,intent\nSoil pH testing,90,informational\nsoil  ph   TESTING,10,\n,5,\n"
    response = post_csv(api, site, data)
    assert response.status_code == 200
    assert response.json() == {
        "created": 1,
        "duplicates": 1,
        "rejected": [{"row": 4, "value": "", "reason": "keyword is empty"}],
    }


def test_the_page_lists_each_duplicate_and_what_it_repeats(client, alice, site):
    """The import report names the duplicate rows (in the file, or already on the site) and
    shows untrusted text isolated, so a right-to-left override cannot reverse the page."""
    client.force_login(alice)
    existing = Keyword.objects.filter(site=site).first().keyword
    data = (
        "keyword\nSoil pH testing\nsoil  ph   TESTING\n"
        + existing.upper()
        + "\n\u202egnitset\u202c,x\n"
    ).encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("k.csv", data, content_type="text/csv")
    html = client.post(f"/sites/{site.pk}/keywords/import/", {"file": upload}).content.decode()
    assert 'data-testid="import-duplicates">2<' in html
    assert (
        '<td>3</td><td class="wrap"><bdi>soil ph TESTING</bdi></td><td class="wrap">the same keyword as row 2</td>'
        in html
    )
    assert (
        f'<td>4</td><td class="wrap"><bdi>{existing.upper()}</bdi></td><td class="wrap">already on this site</td>'
        in html
    )
    assert "<bdi>\u202egnitset\u202c</bdi>" in html  # the rejected row (volume "x"), isolated


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"keyword\n\xff\xfe broken bytes\n", "not UTF-8"),
        (b"term,volume\nsoil,10\n", "must include a 'keyword' column; found: term, volume"),
        (b"\r\n", "must include a 'keyword' column; found: nothing"),
        (b"keyword,volume\n", "has a header row but no keywords under it"),
        (
            b"keyword\nsoil ph\n" + b"x" * 200_000 + b"\nmulch\n",
            "Row 3 of the CSV file holds a field of more than 131,072 characters",
        ),
    ],
)
def test_unusable_csv_files_are_refused_with_422(api, site, data, message):
    response = post_csv(api, site, data)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_an_empty_csv_file_is_refused():
    from cascade.planner.importing import ImportRefused, rows_from_csv

    with pytest.raises(ImportRefused, match="The CSV file is empty"):
        rows_from_csv(b"")


def test_too_many_rows_are_refused_with_422(api, site):
    data = ("keyword\n" + "\n".join(f"keyword number {i}" for i in range(100_000))).encode()
    response = post_csv(api, site, data)
    assert response.status_code == 422
    assert "at most 50,000 keywords" in response.json()["detail"]
    assert Keyword.objects.filter(site=site).count() == 40


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"keywords": "soil"}', b"\xff\xfe"])
def test_malformed_json_bodies_are_422(api, site, body):
    response = api.post(f"/api/v1/sites/{site.pk}/keywords/", body, content_type="application/json")
    assert response.status_code == 422
    assert "keywords" in response.json()["detail"] or "body" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/automation/run_progress/?site_id=abc", 422, "site_id"),
        ("/api/v1/automation/run_progress/", 422, "site_id"),
        ("/api/v1/automation/run_progress/?site_id={site}&run_id=not-a-uuid", 422, "run_id"),
        ("/api/v1/automation/logs/?site_id={site}", 422, "run_id"),
        ("/api/v1/automation/run_progress/?site_id=999999", 404, None),
        ("/api/v1/automation/run_progress/?site_id=-1", 422, "site_id"),
        ("/api/v1/sites/999999/keywords/", 404, None),
        ("/api/v1/sites/{site}/keywords/?status=bogus", 422, "status"),
        ("/api/v1/sites/{site}/keywords/?limit=0", 422, "limit"),
        ("/api/v1/sites/{site}/keywords/?limit=abc", 422, "limit"),
        ("/api/v1/sites/{site}/keywords/?offset=-3", 422, "offset"),
    ],
)
def test_wrong_typed_or_unknown_ids_are_422_or_404(api, site, path, status, field):
    response = api.get(path.format(site=site.pk))
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str)
    if field:
        assert field in body["detail"]


def test_a_site_path_that_is_not_a_number_is_not_a_server_error(api):
    assert api.get("/api/v1/sites/abc/").status_code == 404


@pytest.mark.parametrize("chosen", ["", "abc", "-3", "0", "9" * 20, "1e3", " 7 ", "²", "٣"])
def test_the_site_switcher_takes_any_text_without_a_server_error(client, alice, site, chosen):
    client.force_login(alice)
    answer = client.get("/sites/go/", {"site": chosen})
    assert answer.status_code == 302
    expected = f"/sites/{int(chosen)}/" if chosen.strip() in ("7",) else "/sites/"
    assert answer["Location"].startswith(expected), answer["Location"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"stages_enabled": [True, False]}, "stages_enabled"),
        ({"batch_sizes": {"9": 10}}, "batch_sizes"),
        ({"batch_sizes": {"1": 0}}, "batch_sizes"),
        ({"ideas_per_cluster": 0}, "ideas_per_cluster"),
        ({"target_words": "many"}, "target_words"),
        ({"target_words": None}, "target_words"),
    ],
)
def test_bad_configuration_is_422_naming_the_field(api, site, payload, field):
    response = api.put(
        f"/api/v1/automation/config/?site_id={site.pk}",
        json.dumps(payload),
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert field in response.json()["detail"]


def test_configuration_round_trips(api, site):
    response = api.put(
        f"/api/v1/automation/config/?site_id={site.pk}",
        {"ideas_per_cluster": 2, "batch_sizes": {"4": 3}, "stages_enabled": [True] * 6 + [False]},
        content_type="application/json",
    )
    assert response.status_code == 200
    config = api.get(f"/api/v1/automation/config/?site_id={site.pk}").json()
    assert config["ideas_per_cluster"] == 2
    assert config["batch_sizes"] == {"4": 3}
    assert config["stages_enabled"][-1] is False
    assert config["target_words"] == 1200


def test_creating_a_site_validates_its_name(api, site):
    assert (
        api.post("/api/v1/sites/", {"name": ""}, content_type="application/json").status_code == 422
    )
    assert (
        api.post("/api/v1/sites/", {"name": "bad\x00"}, content_type="application/json").status_code
        == 422
    )
    created = api.post("/api/v1/sites/", {"name": "Second blog"}, content_type="application/json")
    assert created.status_code == 201
    assert created.json()["name"] == "Second blog"
    assert api.get("/api/v1/sites/").json()["count"] == 2


INVISIBLE_SAMPLES = {
    "tag": "A\U000e0041\U000e0042 hidden prompt",  # TAG characters: invisible text
    "nul": "A\x00B",
    "bidi": "abc\u202edef",
    "zero-width": "ab\u200bcd",
    "word joiner": "ab\u2060cd",
}


@pytest.fixture
def written_article(written):
    from cascade.writer.models import Content

    return Content.objects.filter(site=written).first()


@pytest.mark.parametrize("sample", list(INVISIBLE_SAMPLES), ids=list(INVISIBLE_SAMPLES))
def test_one_rule_refuses_invisible_characters_in_every_text_a_person_types(
    api, site, written_article, sample
):
    text = INVISIBLE_SAMPLES[sample]
    json = "application/json"
    refused = [
        api.post("/api/v1/sites/", {"name": text}, content_type=json),
        api.post(
            f"/api/v1/sites/{site.pk}/keywords/",
            {"keywords": [{"keyword": text}]},
            content_type=json,
        ),
        api.patch(
            f"/api/v1/sites/{site.pk}/content/{written_article.pk}/",
            {"title": text},
            content_type=json,
        ),
        api.patch(
            f"/api/v1/sites/{site.pk}/content/{written_article.pk}/",
            {"meta_description": text},
            content_type=json,
        ),
        api.put(f"/api/v1/sites/{site.pk}/settings/", {"tone": text}, content_type=json),
        api.put(f"/api/v1/sites/{site.pk}/settings/", {"audience": text}, content_type=json),
        api.post(
            f"/api/v1/sites/{site.pk}/content/{written_article.pk}/rewrite/",
            {"note": text},
            content_type=json,
        ),
        api.post(
            f"/api/v1/sites/{site.pk}/content/{written_article.pk}/reject/",
            {"reason": text},
            content_type=json,
        ),
    ]
    for answer in refused[:1] + refused[2:]:
        assert answer.status_code == 422, answer.content
        assert "visible characters" in answer.json()["detail"], answer.json()
    rows = refused[1].json()
    assert rows["created"] == 0 and rows["rejected"], rows
    written_article.refresh_from_db()
    site.refresh_from_db()
    assert text not in (
        written_article.title,
        written_article.meta_description,
        site.tone,
        site.audience,
    )


def test_the_import_button_says_again_only_after_an_import(client, alice, site):
    """The page's button reads "Import again" once a file was imported (an out-of-band swap of
    the report), never after a refused one."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(alice)
    url = f"/sites/{site.pk}/keywords/import/"
    refused = SimpleUploadedFile("k.csv", b"name\nsoil\n", content_type="text/csv")
    answer = client.post(url, {"file": refused}, headers={"HX-Request": "true"})
    assert answer.status_code == 422 and "Import again" not in answer.content.decode()
    taken = SimpleUploadedFile("k.csv", b"keyword\nsoil crumbs\n", content_type="text/csv")
    answer = client.post(url, {"file": taken}, headers={"HX-Request": "true"})
    assert (
        answer.status_code == 200 and 'hx-swap-oob="true">Import again<' in answer.content.decode()
    )
    assert "Not imported" not in answer.content.decode()
    # a column Cascade does not keep is named, not dropped without a word
    extra = SimpleUploadedFile(
        "k.csv", b"keyword,Topic\nsoil grains,soil\n", content_type="text/csv"
    )
    said = client.post(url, {"file": extra}).content.decode()
    assert 'data-testid="import-ignored">Not imported: the column <bdi>Topic</bdi> (' in said
