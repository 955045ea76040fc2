"""The offline provider: real, deterministic work without any network.

Clusters come from a small sentence-embedding model (or TF-IDF on large sites) and average
linkage, ideas and articles from templates driven by the keywords, pictures from Pillow.
Everything it writes is marked as an offline draft."""

from __future__ import annotations

import hashlib
import random

from cascade.ai import base, clustering
from cascade.ai.local_ideas import Ideas
from cascade.ai.local_pictures import Pictures
from cascade.ai.text import clip, count_words

SENTENCES = [
    "When it comes to {k}, small details decide whether the result lasts.",
    "Many readers start with {k} because it gives quick, visible results.",
    "{S} is easier once you know what to look for.",
    "Plan a little before you begin, and {k} becomes far less stressful.",
    "A common mistake is rushing {k}; patience pays off here.",
    "Set aside an afternoon, gather what you need, and work through it step by step.",
    "The right choice depends on your space, your budget and how much time you have.",
    "Keep notes as you go so the next round of {k} goes even more smoothly.",
    "If something looks wrong, stop and check before you continue.",
    "Quality materials cost a little more but usually save money over the years.",
    "Seasonal conditions matter, so check the weather before you commit to a date.",
    "Think about how {S} fits with the rest of your plans for {t}.",
    "Friends and neighbours are often a good source of practical advice on {k}.",
    "Write down a simple checklist and tick items off as you finish them.",
    "Most problems with {k} come from skipping preparation.",
    "A modest first attempt teaches more than any amount of reading.",
    "Look after your tools and they will look after your results.",
    "Safety comes first: wear gloves and keep children and pets at a distance.",
    "Compare a few options side by side before you decide on {k}.",
    "Regular, light maintenance beats an occasional big effort.",
    "Take photos before and after, so you can see what worked.",
    "Local conditions vary, so adapt these suggestions to your own situation.",
    "Budget for a small margin, because something always costs more than expected.",
    "Once the basics of {t} are in place, improvements come quickly.",
]


class LocalProvider(Pictures, Ideas):
    name = "local"
    label = "Offline drafts"
    is_offline = True

    def cluster_keywords(
        self,
        keywords: list[base.KeywordIn],
        existing: list[base.ClusterRef],
        profile=None,
        method: str = "",
    ) -> list[base.ClusterAssignment]:
        how = clustering.method_named(method, len(keywords))
        return clustering.cluster_keywords(keywords, existing, how)

    def write_article(self, brief: base.Brief, profile=None) -> base.ArticleOut:
        seed = int(hashlib.sha256((brief.title + brief.note).encode()).hexdigest()[:12], 16)
        rng = random.Random(seed)
        keywords = brief.target_keywords or [brief.title]
        topic = brief.title
        sections = list(brief.outline) or ["Overview"]
        titles: list[str | None] = [None, *sections, "Conclusion"]
        blocks: list[tuple[str | None, int]] = [(t, 0) for t in titles]
        budget = brief.target_words
        per_block = max(40, budget // len(blocks))
        parts: list[str] = []  # the title is the page's heading, not part of the body
        words = 0

        def paragraph(section: str, limit: int) -> tuple[str, int]:
            sentences, n = [], 0
            while n < limit:
                k = keywords[rng.randrange(len(keywords))]
                s = rng.choice(SENTENCES).format(k=k, S=section, t=topic.lower())
                s = s[:1].upper() + s[1:]
                sentences.append(s)
                n += len(s.split())
            return " ".join(sentences), n

        for heading, _ in blocks:
            section = heading or topic
            if heading is None:
                intro = f"This article covers {keywords[0]} from the ground up, written for {brief.audience or 'readers'} in a {brief.tone or 'clear'} voice."
                parts.append(f"<p>{_esc(intro)}</p>")
                words += len(intro.split())
            else:
                parts.append(f"<h2>{_esc(heading)}</h2>")
                words += len(heading.split())
            remaining_blocks = len(blocks) - (blocks.index((heading, 0)))
            target_here = min(per_block, max(20, (budget - words) // max(1, remaining_blocks)))
            while target_here > 0:
                text, n = paragraph(section, min(70, target_here))
                parts.append(f"<p>{_esc(text)}</p>")
                words += n
                target_here -= n
        html = "\n".join(parts)
        meta_title = clip(brief.title, 60)
        meta_description = clip(
            f"{brief.title}: practical advice on {', '.join(keywords[:3])}, with steps, costs and common mistakes.",
            160,
        )
        return base.ArticleOut(
            html=html,
            meta_title=meta_title,
            meta_description=meta_description,
            word_count=count_words(html),
        )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
