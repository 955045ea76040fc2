"""Pictures where they belong: the featured picture is the article's and comes first; each
in-article picture is made for one section (its prompt from that section's heading and text)
and sits right after that section's heading, in the stored HTML of a whole run and after a
reviewer moves sections around; alt text says what the picture shows in plain words."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from PIL import Image as PILImage

from cascade.ai.base import SectionIn
from cascade.ai.local import LocalProvider
from cascade.ai.local_pictures import colour_name
from cascade.automation.steps.writing import picture_sections
from cascade.writer.html import place_images
from cascade.writer.models import Content, Image
from tests.conftest import run_to_end

BOILERPLATE = ("editorial photograph", "natural light", "no text", "clean and informative")


class Layout(HTMLParser):
    """Each picture of an article with the heading it follows (None before the first)."""

    def __init__(self) -> None:
        super().__init__()
        self.heading: str | None = None
        self.in_h2 = False
        self.text = ""
        self.figure: str | None = None
        self.pictures: list[tuple[int, str | None, str]] = []  # (image id, heading, alt)
        self.first_element: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.first_element = self.first_element or tag
        if tag == "h2":
            self.in_h2, self.text = True, ""
        elif tag == "figure":
            self.figure = attrs.get("data-image")
        elif tag == "img" and self.figure:
            self.pictures.append((int(self.figure), self.heading, attrs.get("alt") or ""))

    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_h2, self.heading = False, " ".join(self.text.split())
        elif tag == "figure":
            self.figure = None

    def handle_data(self, data):
        if self.in_h2:
            self.text += data


def layout(html: str) -> Layout:
    parser = Layout()
    parser.feed(html)
    return parser


def check_article(content: Content) -> int:
    images = {i.pk: i for i in content.images.all()}
    found = layout(content.html)
    assert found.first_element == "figure", "the featured picture opens the article"
    assert sorted(pk for pk, _, _ in found.pictures) == sorted(images), "every picture, once"
    for pk, heading, alt in found.pictures:
        image = images[pk]
        assert alt == image.alt and 0 < len(alt) <= 125, alt
        assert alt != image.prompt and not any(b in alt.lower() for b in BOILERPLATE), alt
        if image.kind == "featured":
            assert heading is None and image.section == ""
        else:
            assert heading == image.section, (
                f"picture {pk} for {image.section!r} is under {heading!r}"
            )
            assert image.section in image.prompt, "its prompt is drawn from its section"
    in_article = [
        images[pk].section for pk, _, _ in found.pictures if images[pk].kind != "featured"
    ]
    assert len(set(in_article)) == len(in_article), "one picture a section"
    return len(in_article)


@pytest.mark.django_db(transaction=True)
def test_every_picture_of_a_whole_run_sits_under_the_heading_it_was_made_for(site):
    assert run_to_end(site).outcome == "succeeded"
    contents = list(Content.objects.filter(site=site).prefetch_related("images"))
    assert contents
    assert sum(check_article(c) for c in contents) == 2 * len(contents)


@pytest.mark.django_db(transaction=True)
def test_the_alt_text_kept_says_what_was_drawn_not_what_was_asked(site, settings):
    """Prompts written with a model's alt text ("a pot of tomatoes"), pictures drawn offline
    (words on colours, as when a site changes provider between stages): each picture's alt text,
    stored and in its article, describes the drawing."""
    from cascade.ai import reset_provider_cache

    settings.CASCADE_AI_PROVIDER = "tests.providers.ModelAltProvider"
    reset_provider_cache()
    assert run_to_end(site).outcome == "succeeded"
    drawn = list(Image.objects.filter(site=site))
    assert drawn
    for image in drawn:
        assert image.alt == LocalProvider().what_it_shows(image.prompt), image.alt
        assert "tomatoes on a sunny windowsill" not in image.alt
    for content in Content.objects.filter(site=site).prefetch_related("images"):
        check_article(content)


@pytest.mark.django_db(transaction=True)
def test_a_picture_follows_its_section_when_a_reviewer_reorders_the_article(site):
    run_to_end(site)
    content = Content.objects.filter(site=site).first()
    images = list(content.images.all())
    # The reviewer moves the last section to the top and renames one without a picture.
    parts = content.html.split("<h2>")
    reordered = parts[0] + "<h2>" + "<h2>".join([parts[-1], *parts[1:-1]])
    moved = place_images(reordered, images)
    found = layout(moved)
    sections_of = {i.pk: i.section for i in images}
    for pk, heading, _ in found.pictures:
        assert heading == (sections_of[pk] or None)
    assert place_images(moved, images) == moved, "placing again changes nothing"


@pytest.mark.django_db(transaction=True)
def test_a_picture_stays_under_its_heading_when_a_reviewer_rewords_it(site):
    """Rewording a heading in the editor keeps its picture under it (not moved to the end);
    the picture's section follows the new words."""
    from cascade.writer import review
    from cascade.writer.html import FIGURE_RE

    run_to_end(site)
    content = Content.objects.filter(site=site).first()
    image = content.images.exclude(kind="featured").first()
    old = image.section
    edited = FIGURE_RE.sub("", content.html).replace(f"<h2>{old}</h2>", "<h2>Kit for the job</h2>")
    content = review.edit(content, {"html": edited})
    image.refresh_from_db()
    assert image.section == "Kit for the job"
    found = layout(content.html)
    assert (image.pk, "Kit for the job", image.alt) in found.pictures


def test_sections_for_pictures_are_spread_and_skip_the_closing_ones():
    html = "".join(f"<h2>Part {n}</h2><p>Text {n}.</p>" for n in range(1, 7)) + (
        "<h2>Conclusion</h2><p>End.</p>"
    )
    assert [s.heading for s in picture_sections(html, 2)] == ["Part 1", "Part 4"]
    assert [s.heading for s in picture_sections(html, 3)] == ["Part 1", "Part 3", "Part 5"]
    assert picture_sections(html, 1)[0] == SectionIn("Part 1", "Text 1.")
    assert len(picture_sections(html, 10)) == 6, "never two pictures under one heading"
    assert picture_sections("<p>No headings.</p>", 2) == []


def test_offline_prompts_are_drawn_of_their_sections_with_plain_alt_text():
    chosen = [SectionIn("Can beginners do it?", "Yes: start with one pot and a sunny sill.")]
    featured, inside = LocalProvider().image_prompts("Growing tomatoes in pots", chosen)
    assert featured.kind == "featured" and featured.section == ""
    assert inside.section == "Can beginners do it?"
    assert "Can beginners do it?" in inside.prompt and "sunny sill" in inside.prompt
    for prompt in (featured, inside):
        assert len(prompt.alt) <= 125
        assert not any(b in prompt.alt.lower() for b in BOILERPLATE), prompt.alt
    # the alt text says what the drawn picture shows: its words, on a background of that colour
    assert inside.alt.endswith("and the words “Can beginners do it?”"), inside.alt
    assert featured.alt.endswith("and the words “Growing tomatoes in pots”"), featured.alt
    for prompt in (featured, inside):
        png = LocalProvider().render_image(prompt.prompt, 400, 300)
        drawn = PILImage.open(io.BytesIO(png)).convert("RGB")
        top, bottom = (colour_name(drawn.getpixel((2, y))) for y in (0, 299))
        said = top if top == bottom else f"{top}-to-{bottom}"
        article = "An" if said[0] in "aeiou" else "A"
        assert prompt.alt.startswith(f"{article} {said} picture with circles"), prompt.alt
    # a long heading is shortened inside its quotes, and "an" comes before a vowel
    long = [SectionIn(f"Heading {n} " + "word " * 40, "") for n in range(30)]
    for prompt in LocalProvider().image_prompts("Growing tomatoes in pots", long)[1:]:
        assert len(prompt.alt) <= 125 and prompt.alt.endswith("…”"), prompt.alt
        assert not re.match(r"A [aeiou]", prompt.alt), prompt.alt


def test_an_image_without_a_matching_heading_goes_at_the_end():
    class Pic:
        def __init__(self, pk, kind, section, position):
            self.pk, self.kind, self.section, self.position = pk, kind, section, position
            self.file, self.alt, self.width, self.url = "x.png", "A pot", None, "/m/x.png"

    html = "<p>Intro.</p><h2>One</h2><p>a</p><h2>Two</h2><p>b</p>"
    out = place_images(
        html,
        [
            Pic(1, "featured", "", 0),
            Pic(2, "in_article", "Two", 1),
            Pic(3, "in_article", "Gone", 2),
        ],
    )
    found = layout(out)
    assert [(pk, h) for pk, h, _ in found.pictures] == [(1, None), (2, "Two"), (3, "Two")]
    assert out.rstrip().endswith("</figure>")


def test_only_a_heading_reworded_in_place_counts_as_renamed():
    """Anything less certain than a heading reworded where it stood (moved, deleted, repeated)
    leaves its picture to the end of the article, never under another section's heading."""
    from cascade.writer.html import renamed_headings

    def page(*headings: str) -> str:
        return "".join(f"<h2>{h}</h2><p>Text.</p>" for h in headings)

    assert renamed_headings(page("A", "B", "C"), page("A", "B2", "C")) == {"b": "B2"}
    assert renamed_headings(page("A", "B", "C"), page("C", "A2", "B")) == {}  # moved too
    assert renamed_headings(page("A", "B", "C"), page("A", "C", "D")) == {}  # one gone
    assert renamed_headings(page("A", "B", "C"), page("B2", "A", "C")) == {}  # swapped
    assert renamed_headings(page("X", "X", "Y"), page("P", "Q", "Y")) == {}  # repeated
