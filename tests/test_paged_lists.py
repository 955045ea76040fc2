"""Paged lists keep their filters: the next page of a filtered list is the same filter's next
page, whatever characters the filter holds."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from cascade.planner.importing import import_rows
from cascade.planner.views import PER_PAGE

pytestmark = pytest.mark.django_db


def test_the_next_page_keeps_the_search(site, alice):
    import_rows(site, [{"keyword": f"a&b tomato {n:03}"} for n in range(PER_PAGE + 7)])
    import_rows(site, [{"keyword": f"pepper {n:03}"} for n in range(30)])
    client = Client()
    client.force_login(alice)
    first = client.get(f"/sites/{site.pk}/keywords/", {"q": "a&b tomato"}).content.decode()
    assert "Page 1 of 2" in first
    link = unescape(re.search(r'href="([^"]+)" data-testid="next-page"', first).group(1))
    assert parse_qs(urlsplit(link).query) == {"q": ["a&b tomato"], "page": ["2"]}
    second = client.get(f"/sites/{site.pk}/keywords/{link}").content.decode()
    assert "Page 2 of 2" in second and "pepper" not in second
    assert len(set(re.findall(r"a&amp;b tomato \d{3}", second))) == 7
