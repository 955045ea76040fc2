"""The offline provider's pictures: prompts drawn from the article and its sections, and
PNG pictures drawn with Pillow that show their subject as a label on a coloured background.
Their alt text says just that ("A blue-to-green picture with circles and the words “Can
beginners do it?”"):
a reader who cannot see it learns what it shows, not what it was meant to be."""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

from cascade.ai import base
from cascade.ai.text import clip

# Hue bands (degrees, upper bound) and their names, for the alt text.
HUES = (
    (15, "red"),
    (45, "orange"),
    (70, "yellow"),
    (95, "olive"),
    (160, "green"),
    (200, "teal"),
    (255, "blue"),
    (290, "purple"),
    (335, "pink"),
    (360, "red"),
)


def _colours(prompt: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The picture's top and bottom colours, drawn from its prompt."""
    digest = hashlib.sha256(prompt.encode()).digest()
    top = (60 + digest[0] % 120, 90 + digest[1] % 120, 60 + digest[2] % 100)
    bottom = (20 + digest[3] % 80, 40 + digest[4] % 90, 30 + digest[5] % 80)
    return top, bottom


def colour_name(rgb: tuple[int, int, int]) -> str:
    """A plain name for a colour: "grey", "dark green", "light blue"."""
    hue, light, saturation = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    shade = "dark " if light < 0.35 else "light " if light > 0.7 else ""
    if saturation < 0.12:
        return f"{shade}grey"
    return shade + next(name for bound, name in HUES if hue * 360 <= bound)


def _label(prompt: str) -> str:
    """The words the offline picture of `prompt` shows: its subject, before the first colon."""
    return prompt.split(":")[0][:120]


def _alt(prompt: str) -> str:
    """What the offline picture of `prompt` shows: its label on a coloured background."""
    top, bottom = (colour_name(c) for c in _colours(prompt))
    colour = top if top == bottom else f"{top}-to-{bottom}"
    head = f"{'An' if colour[0] in 'aeiou' else 'A'} {colour} picture with circles and the words “"
    return f"{head}{clip(_label(prompt), 124 - len(head))}”"


class Pictures:
    """Stages 5 and 6 of LocalProvider."""

    def image_prompts(
        self, title: str, sections: list[base.SectionIn], profile=None
    ) -> list[base.PromptOut]:
        """The featured picture is the article's; each in-article one is drawn of its section
        (the offline picture shows its subject as a label, so the alt text says just that)."""
        featured = f"{title}: an inviting editorial photograph in bright natural light, no text"
        prompts = [base.PromptOut("featured", featured, alt=_alt(featured))]
        for section in sections:
            about = clip(section.text, 200) if section.text else title
            prompt = (
                f"{section.heading}: an illustration for the article '{title}' showing "
                f"{about}; clean and informative, no text"
            )
            prompts.append(
                base.PromptOut(
                    "in_article",
                    prompt,
                    alt=_alt(prompt),
                    section=section.heading,
                )
            )
        return prompts

    def what_it_shows(self, prompt: str) -> str:
        """The alt text of the picture `render_image` draws of `prompt`: the one stage 6 keeps,
        whichever provider wrote the prompt (a real model's describes what it asked for)."""
        return _alt(prompt)

    def render_image(self, prompt: str, width: int, height: int, profile=None) -> bytes:
        digest = hashlib.sha256(prompt.encode()).digest()
        top, bottom = _colours(prompt)
        image = Image.new("RGB", (width, height), top)
        draw = ImageDraw.Draw(image)
        for y in range(0, height, 2):
            f = y / max(1, height - 1)
            colour = tuple(int(a + (b - a) * f) for a, b in zip(top, bottom, strict=True))
            draw.rectangle([(0, y), (width, y + 1)], fill=colour)
        rng = random.Random(digest)
        for _ in range(6):
            r = rng.randint(height // 10, height // 3)
            x, y = rng.randint(0, width), rng.randint(0, height)
            shade = tuple(min(255, c + 40) for c in top)
            draw.ellipse(
                [(x - r, y - r), (x + r, y + r)], outline=shade, width=max(1, width // 300)
            )
        font_size = max(10, width // 28)
        try:
            font = ImageFont.load_default(size=font_size)
        except TypeError:  # Pillow built without FreeType
            font = ImageFont.load_default()
        label = textwrap.fill(_label(prompt), width=max(10, width // (font_size // 2 + 1)))
        draw.multiline_text(
            (width // 16, height // 2 - font_size),
            label,
            fill=(255, 255, 255),
            font=font,
            spacing=6,
        )
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()
