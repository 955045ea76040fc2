"""The offline provider: real, deterministic work without any network.

Clusters come from a small sentence-embedding model (or TF-IDF on large sites) and average
linkage, ideas and articles from templates driven by the keywords, pictures from Pillow.
Everything it writes is marked as an offline draft."""

from __future__ import annotations

import hashlib
import random
import re

from cascade.ai import base, clustering
from cascade.ai.local_pictures import Pictures
from cascade.ai.text import clip, count_words
from cascade.planner.models import Structure, normalize


def titlecase(text: str) -> str:
    small = {"a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}
    words = text.split()
    return " ".join(
        w if (i and w.lower() in small) else (w[:1].upper() + w[1:]) for i, w in enumerate(words)
    )


def topic_of(name: str) -> str:
    """The subject of a cluster name, without the question words around it."""
    text = re.sub(
        r"^(how to|how do i|how do you|what is|what are|why is|why do|when to|best|top)\s+",
        "",
        name.strip(),
        flags=re.I,
    )
    return text.rstrip("?") or name


def choose_structures(keywords: list[str], count: int) -> list[str]:
    text = " ".join(keywords).lower()
    ranked: list[str] = []
    if re.search(r"\bhow (to|do|can)\b", text):
        ranked.append(Structure.HOW_TO)
    if re.search(r"\b(vs|versus|compare|comparison|or)\b", text):
        ranked.append(Structure.COMPARISON)
    if re.search(r"\b(best|top|ideas|types|list)\b", text):
        ranked.append(Structure.LISTICLE)
    if re.search(r"\b(what|why|when|can|does|is)\b", text) or "?" in text:
        ranked.append(Structure.FAQ)
    for fallback in (
        Structure.GUIDE,
        Structure.HOW_TO,
        Structure.LISTICLE,
        Structure.FAQ,
        Structure.COMPARISON,
    ):
        if fallback not in ranked:
            ranked.append(fallback)
    return [str(s) for s in ranked[:count]] + [str(Structure.GUIDE)] * max(0, count - len(ranked))


# Titles for a topic that is a noun phrase ("Raised Garden Beds")...
TITLES = {
    Structure.GUIDE: [
        "The Complete Guide to {T}",
        "{T}: Everything You Need to Know",
        "A Beginner's Guide to {T}",
    ],
    Structure.HOW_TO: ["{T}: A Step-by-Step Guide", "{T} Made Simple", "Getting {T} Right at Home"],
    Structure.LISTICLE: [
        "{n} Expert Tips for {T}",
        "{n} Things to Know About {T}",
        "{n} Mistakes to Avoid with {T}",
    ],
    Structure.COMPARISON: [
        "{T}: Comparing Your Options",
        "{T}: Pros, Cons and Alternatives",
        "Choosing {T}: What to Compare",
    ],
    Structure.FAQ: [
        "{T}: Your Questions Answered",
        "{T} FAQ: What People Ask Most",
        "Common Questions About {T}",
    ],
}
# ...and for one that is a question or an action ("How Often to Mow the Lawn").
QUESTION_TITLES = {
    Structure.GUIDE: ["{T}: The Complete Answer", "{T}, Explained", "{T}: A Beginner's Guide"],
    Structure.HOW_TO: [
        "{T}: A Step-by-Step Guide",
        "{T}: Step by Step",
        "{T}: A Practical Walkthrough",
    ],
    Structure.LISTICLE: [
        "{T}: {n} Expert Tips",
        "{T}: {n} Things to Know",
        "{T}: {n} Mistakes to Avoid",
    ],
    Structure.COMPARISON: [
        "{T}: Comparing Your Options",
        "{T}: Pros, Cons and Alternatives",
        "{T}: What to Compare",
    ],
    Structure.FAQ: [
        "{T}? Your Questions Answered",
        "{T}? What People Ask Most",
        "{T}? Common Questions",
    ],
}
QUESTION_START = re.compile(
    r"^(how|what|when|why|where|which|who|can|should|is|are|does|do)\b", re.I
)
OUTLINES = {
    Structure.GUIDE: [
        "{T} at a glance",
        "Why it matters",
        "Getting started",
        "Tools and materials",
        "Common mistakes to avoid",
        "Looking after the results",
        "Costs and budgeting",
        "Next steps",
    ],
    Structure.HOW_TO: [
        "What you will need",
        "Before you start",
        "Step 1: plan the work",
        "Step 2: do the work",
        "Step 3: check the result",
        "Troubleshooting",
        "Keeping it in good shape",
    ],
    Structure.LISTICLE: [
        "How we chose these",
        "1. The classic approach",
        "2. The budget pick",
        "3. The low-effort choice",
        "4. The long-term investment",
        "5. The creative twist",
        "How to pick the right one",
    ],
    Structure.COMPARISON: [
        "The options at a glance",
        "How they compare on cost",
        "How they compare on effort",
        "Durability and upkeep",
        "Which suits small spaces",
        "Our verdict",
    ],
    Structure.FAQ: [
        "The short answer",
        "How much does it cost?",
        "How long does it take?",
        "Can beginners do it?",
        "What are the most common problems?",
        "Where to learn more",
    ],
}
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


class LocalProvider(Pictures):
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

    def generate_ideas(
        self, cluster: base.ClusterIn, count: int, taken_titles: set[str], profile=None
    ) -> list[base.IdeaOut]:
        words = [k.keyword for k in cluster.keywords] or [cluster.name]
        topic = titlecase(topic_of(cluster.name))
        ideas: list[base.IdeaOut] = []
        taken = set(taken_titles)
        table = QUESTION_TITLES if QUESTION_START.match(topic) else TITLES
        for i, structure in enumerate(choose_structures(words, count)):
            templates = table[Structure(structure)]
            title = self._unique_title(templates, i, topic, taken)
            taken.add(normalize(title))
            outline = [
                s.format(T=topic)
                for s in OUTLINES[Structure(structure)][: 5 + (len(words) + i) % 4]
            ]
            targets = sorted(words, key=len)[:5]
            ideas.append(
                base.IdeaOut(
                    title=title, outline=outline, target_keywords=targets, structure=structure
                )
            )
        return ideas

    @staticmethod
    def _unique_title(templates: list[str], offset: int, topic: str, taken: set[str]) -> str:
        suffixes = ["", " for Beginners", " This Year", " on a Budget", " for Small Spaces"]
        for suffix in suffixes:
            for j in range(len(templates)):
                template = templates[(offset + j) % len(templates)]
                title = template.format(T=topic, n=5 + (offset + j) % 6) + suffix
                if normalize(title) not in taken:
                    return title
        n = 2
        while True:
            title = f"{templates[offset % len(templates)].format(T=topic, n=7)} (Part {n})"
            if normalize(title) not in taken:
                return title
            n += 1

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
