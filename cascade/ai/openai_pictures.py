"""Stages 5 and 6 for the OpenAI-compatible provider: image prompts for the article and the
sections chosen for pictures (each with plain alt text), and pictures from the images API,
cropped and scaled to the size asked for."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from PIL import Image as PILImage

from cascade.ai import usage
from cascade.ai.answers import PromptsOut
from cascade.ai.base import PromptOut, ProviderError, SectionIn, SiteProfile
from cascade.ai.text import clip


class Pictures:
    """Stages 5 and 6 of OpenAIProvider (which brings the transport: `_call`, `_structured`,
    `_prompt`, `_who`, `client`, `image_model`)."""

    image_model: str
    _call: Any
    _structured: Any
    _prompt: Any
    _who: Any
    client: Any

    def image_prompts(
        self, title: str, sections: list[SectionIn], profile: SiteProfile | None = None
    ) -> list[PromptOut]:
        wanted = [" ".join(s.heading.split()).casefold() for s in sections]

        def check(answer: PromptsOut) -> None:
            got = [
                " ".join(p.section.split()).casefold()
                for p in answer.prompts
                if p.kind == "in_article"
            ]
            if sorted(got) != sorted(wanted):
                raise ValueError(
                    "expected one prompt of kind 'in_article' for each section, with its heading "
                    f"as `section`: {json.dumps([s.heading for s in sections])}"
                )

        prompt = self._prompt(
            "image_prompts",
            title=title,
            sections="\n".join(
                f"{n}. {s.heading}: {clip(s.text, 300)}" for n, s in enumerate(sections, 1)
            )
            or "(none)",
            outline=json.dumps([s.heading for s in sections]),  # prompts written for older versions
            count=len(sections),
            **self._who(profile),
        )
        answer = self._structured(prompt, PromptsOut, "image_prompts", check)
        by_heading = {" ".join(s.heading.split()).casefold(): s.heading for s in sections}
        featured = [p for p in answer.prompts if p.kind == "featured"]
        inside = sorted(
            (p for p in answer.prompts if p.kind != "featured"),
            key=lambda p: wanted.index(" ".join(p.section.split()).casefold()),
        )
        return [
            PromptOut(
                p.kind,
                p.prompt,
                alt=clip(p.alt, 125),
                section=by_heading.get(" ".join(p.section.split()).casefold(), "")
                if p.kind != "featured"
                else "",
            )
            for p in featured + inside
        ]

    def render_image(
        self, prompt: str, width: int, height: int, profile: SiteProfile | None = None
    ) -> bytes:
        size = "1536x1024" if width > height else "1024x1024"
        response = self._call(
            lambda: self.client.images.generate(
                model=self.image_model, prompt=prompt, size=size, n=1, response_format="b64_json"
            ),
            estimated_tokens=0,
        )
        usage.record(images=1)
        data = response.data[0] if response.data else None
        if data is None or not getattr(data, "b64_json", None):
            raise ProviderError("The AI provider returned no image data.")
        try:
            picture = PILImage.open(io.BytesIO(base64.b64decode(data.b64_json))).convert("RGB")
        except Exception:
            raise ProviderError("The AI provider returned an image that cannot be read.") from None
        return _fit(picture, width, height)


def _fit(picture: PILImage.Image, width: int, height: int) -> bytes:
    """Crop to the target's aspect ratio around the centre, then scale."""
    ratio = width / height
    w, h = picture.size
    if w / h > ratio:
        new_w = int(h * ratio)
        picture = picture.crop(((w - new_w) // 2, 0, (w - new_w) // 2 + new_w, h))
    else:
        new_h = int(w / ratio)
        picture = picture.crop((0, (h - new_h) // 2, w, (h - new_h) // 2 + new_h))
    out = io.BytesIO()
    picture.resize((width, height)).save(out, format="PNG")
    return out.getvalue()
