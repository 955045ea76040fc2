"""The offline provider: real, deterministic work without any network.

Clusters come from a small sentence-embedding model (or TF-IDF on large sites) and average
linkage, ideas and articles from templates driven by the keywords, pictures from Pillow.
Everything it writes is marked as an offline draft."""

from __future__ import annotations

import hashlib
import random

from cascade.ai import base, clustering
from cascade.ai.local_ideas import QUESTION_START, Ideas, topic_of
from cascade.ai.local_pictures import Pictures
from cascade.ai.text import clip, count_words
from cascade.lib.words import listed

# The offline draft's sentences: {k} is one of the article's keywords that names a thing (not a
# question), {t} its first such keyword. Drawn as a shuffled deck, so none comes back before
# every other has been used.
SENTENCES = [
    "When it comes to {k}, small details decide whether the result lasts.",
    "Many readers start with {k} because it gives quick, visible results.",
    "Plan a little before you begin, and {k} becomes far less stressful.",
    "A common mistake is rushing {k}; patience pays off here.",
    "Set aside some time, gather what you need, and work through it step by step.",
    "The right choice depends on your needs, your budget and how much time you have.",
    "Keep notes as you go so the next round of {k} goes even more smoothly.",
    "If something looks wrong, stop and check before you continue.",
    "Quality costs a little more but usually saves money over the years.",
    "Start small, check the result, then build on what worked.",
    "Friends and experienced people are often a good source of practical advice on {k}.",
    "Write down a simple checklist and tick items off as you finish them.",
    "Most problems with {k} come from skipping preparation.",
    "A modest first attempt teaches more than any amount of reading.",
    "Look after your equipment and it will look after your results.",
    "Read the instructions that came with your equipment before you begin.",
    "Compare a few options side by side before you decide on {k}.",
    "Regular, light maintenance beats an occasional big effort.",
    "Keep a record of what you changed, so you can see what worked.",
    "Conditions vary, so adapt these suggestions to your own situation.",
    "Budget for a small margin, because something always costs more than expected.",
    "Once the basics of {t} are in place, improvements come quickly.",
]


def _things(keywords: list[str]) -> list[str]:
    """The keywords that name a thing ("raised bed soil"), not a question ("is cycling bad for
    your knees"), without "best" and "top": what a sentence can speak of."""
    once: dict[str, str] = {}  # each thing once, as first spelled
    for keyword in keywords:
        if not QUESTION_START.match(keyword):
            once.setdefault(topic_of(keyword).casefold(), topic_of(keyword))
    return list(once.values())


def _description(title: str, things: list[str]) -> str:
    """A meta description of at most 160 characters, whole (no cut word): what the article
    gives advice on."""
    for n in (3, 2, 1):
        if len(things) >= n:
            text = f"Practical advice on {listed(things[:n])}: the steps, the costs and the mistakes to avoid."
            if len(text) <= 160:
                return text
    subject = title.split(":")[0].strip()
    text = f"Practical advice on {subject}: the steps, the costs and the mistakes to avoid."
    return (
        text
        if len(text) <= 160
        else "Practical advice: the steps, the costs and the mistakes to avoid."
    )


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
        sections = list(brief.outline) or ["Overview"]
        titles: list[str | None] = [None, *sections, "Conclusion"]
        blocks: list[tuple[str | None, int]] = [(t, 0) for t in titles]
        budget = brief.target_words
        per_block = max(40, budget // len(blocks))
        parts: list[str] = []  # the title is the page's heading, not part of the body
        words = 0

        things = _things(keywords)
        usable = [t for t in SENTENCES if things or "{" not in t]
        deck: list[str] = []

        def paragraph(limit: int) -> tuple[str, int]:
            sentences, n = [], 0
            while n < limit:
                if not deck:
                    deck.extend(rng.sample(usable, len(usable)))
                s = deck.pop().format(
                    k=rng.choice(things) if things else "", t=things[0] if things else ""
                )
                s = s[:1].upper() + s[1:]
                sentences.append(s)
                n += len(s.split())
            return " ".join(sentences), n

        for heading, _ in blocks:
            if heading is None:
                first = brief.target_keywords[0] if brief.target_keywords else ""
                about = (
                    f"answers “{first[:1].upper() + first[1:].rstrip('?')}?”"
                    if QUESTION_START.match(first)
                    else f"covers {topic_of(first) if first else 'its subject'}"
                )
                intro = (
                    f"This article {about} from the ground up, written for "
                    f"{brief.audience or 'readers'} in a {brief.tone or 'clear'} voice."
                )
                parts.append(f"<p>{_esc(intro)}</p>")
                words += len(intro.split())
            else:
                parts.append(f"<h2>{_esc(heading)}</h2>")
                words += len(heading.split())
            remaining_blocks = len(blocks) - (blocks.index((heading, 0)))
            target_here = min(per_block, max(20, (budget - words) // max(1, remaining_blocks)))
            while target_here > 0:
                text, n = paragraph(min(70, target_here))
                parts.append(f"<p>{_esc(text)}</p>")
                words += n
                target_here -= n
        html = "\n".join(parts)
        meta_title = clip(brief.title, 60)
        meta_description = _description(brief.title, things)
        return base.ArticleOut(
            html=html,
            meta_title=meta_title,
            meta_description=meta_description,
            word_count=count_words(html),
        )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
