from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from cascade.ai.base import Brief
from cascade.ai.local import LocalProvider
from cascade.ai.text import count_words
from cascade.planner.models import ContentIdea
from cascade.writer.models import Content, Image
from tests.conftest import run_to_end


@pytest.mark.parametrize("target", [600, 1200, 2000])
def test_articles_follow_the_outline_and_hit_the_word_count(target):
    outline = [
        "Why soil matters",
        "Testing your soil",
        "Fixing acidic soil",
        "Fixing alkaline soil",
        "Keeping it right",
    ]
    brief = Brief(
        title="Soil pH Made Simple",
        outline=outline,
        target_keywords=["soil ph", "test soil ph"],
        structure="how-to",
        target_words=target,
    )
    article = LocalProvider().write_article(brief)
    assert abs(article.word_count - target) <= 0.15 * target, article.word_count
    assert article.word_count == count_words(article.html)
    positions = [article.html.index(f"<h2>{h}</h2>") for h in outline]
    assert positions == sorted(positions)
    assert "<h2>Conclusion</h2>" in article.html
    assert article.html.index("<p>") < positions[0], "an introduction comes first"
    assert "soil ph" in article.html
    assert len(article.meta_title) <= 60 and len(article.meta_description) <= 160


def test_rendered_images_are_real_pngs_of_the_asked_size():
    png = LocalProvider().render_image("Featured photo of a raised bed", 1200, 630)
    picture = PILImage.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.size == (1200, 630)
    assert len(picture.resize((32, 16)).getcolors(maxcolors=4096) or []) > 10, "not a blank picture"


@pytest.mark.django_db(transaction=True)
def test_a_run_writes_offline_drafts_with_ideas_outlines_and_served_images(
    site, settings, client, alice
):
    settings.CASCADE_IMAGE_SCALE = 1.0
    run_to_end(site)
    ideas = list(ContentIdea.objects.filter(site=site))
    assert ideas
    assert len({i.title.casefold() for i in ideas}) == len(ideas)
    assert all(5 <= len(i.outline) <= 8 for i in ideas)
    assert all(i.target_keywords for i in ideas)
    assert len({i.structure for i in ideas}) >= 3
    for content in Content.objects.filter(site=site):
        assert content.is_offline_draft
        assert abs(content.word_count - 1200) <= 180
        assert len(content.meta_title) <= 60 and len(content.meta_description) <= 160
    featured = Image.objects.filter(site=site, kind="featured").first()
    inline = Image.objects.filter(site=site, kind="in_article").first()
    assert (featured.width, featured.height) == (1200, 630)
    assert (inline.width, inline.height) == (800, 450)
    assert client.get(featured.url).status_code == 404  # pictures are for members only
    client.force_login(alice)
    response = client.get(featured.url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert PILImage.open(io.BytesIO(body)).size == (1200, 630)


def _clusters_of_the_labelled_lists():
    import csv
    from collections import defaultdict
    from pathlib import Path

    data = Path(__file__).parent / "data"
    for path in sorted(data.glob("clustering*/*.csv")):
        topics = defaultdict(list)
        for row in csv.DictReader(path.open()):
            topics[row["topic"]].append(row["keyword"])
        yield from ((path.stem, words) for words in topics.values())


def test_the_ideas_of_a_cluster_answer_different_searches():
    """Three ideas of a topic's cluster (14 domains' lists) are three articles about different
    keywords of it, not three angles on the same keywords; every keyword is some idea's target."""
    from cascade.ai.base import ClusterIn, KeywordIn

    clusters = apart = 0
    for domain, words in _clusters_of_the_labelled_lists():
        keywords = [KeywordIn(i, w, "", None) for i, w in enumerate(words)]
        ideas = LocalProvider().generate_ideas(ClusterIn(1, words[0], keywords), 3, set())
        assert len(ideas) == 3 and len({i.title for i in ideas}) == 3
        targets = [i.target_keywords for i in ideas]
        for idea in ideas:  # each title names its own first keyword's subject
            subject = idea.target_keywords[0].removeprefix("best ").casefold()
            assert subject in idea.title.casefold(), (idea.title, idea.target_keywords)
        clusters += 1
        if len({t[0] for t in targets}) < 3:
            continue  # (a cluster of few subjects: angles on its topic, tested below)
        apart += 1
        flat = [k for t in targets for k in t]
        assert len(flat) == len(set(flat)), (domain, targets)  # no keyword aimed at twice
        if len(words) <= 15:  # (at most 5 targets an idea)
            assert sorted(flat) == sorted(words), (domain, targets)
    assert clusters > 200 and apart > 0.9 * clusters, (clusters, apart)


def test_a_small_cluster_gets_angles_on_its_one_topic():
    from cascade.ai.base import ClusterIn, KeywordIn

    words = ["raised garden beds", "raised garden beds cost"]
    keywords = [KeywordIn(i, w, "", None) for i, w in enumerate(words)]
    ideas = LocalProvider().generate_ideas(ClusterIn(1, words[0], keywords), 3, set())
    assert len(ideas) == 3 and len({i.title for i in ideas}) == 3
    assert len({i.structure for i in ideas}) == 3, [i.structure for i in ideas]
    assert all("Raised Garden Beds" in i.title for i in ideas)


def test_a_cluster_named_apart_from_its_keywords_never_aims_two_ideas_at_one():
    from cascade.ai.base import ClusterIn, KeywordIn

    keywords = [KeywordIn(1, "burr grinder", "", None), KeywordIn(2, "blade grinder", "", None)]
    ideas = LocalProvider().generate_ideas(ClusterIn(1, "Coffee Grinders", keywords), 3, set())
    flat = [k for i in ideas for k in i.target_keywords]
    assert len(flat) == len(set(flat)), [i.target_keywords for i in ideas]
    assert ideas[0].target_keywords == ["Coffee Grinders"]
    assert LocalProvider().generate_ideas(ClusterIn(1, "Coffee Grinders", keywords), 0, set()) == []
