"""The offline provider's ideas (stage 2): each idea of a cluster answers its own searches. The
first is about the cluster's topic; each further one is about a keyword of the cluster that no
earlier idea covers, with the keywords nearest it, so that a cluster's articles do not compete
for one search. A cluster with fewer distinct searches than the ideas asked for gets fewer."""

from __future__ import annotations

import re

from cascade.ai import base
from cascade.planner.models import Structure, normalize

# Words that say how a search is asked, not what it is about.
ASKING = frozenset(
    "a an the of for to in on at my is are do does how what why when which can i you your it "
    "be should best top vs or and with without near me".split()
)
MOST_TARGETS = 5


SMALL = frozenset(
    "a an and as at but by for from in into nor of on or per the to up via vs with".split()
)
# Words searches spell in lower case that titles spell otherwise ("ftp test" is an "FTP Test").
SPELLED = {
    "ph": "pH",
    "uk": "UK",
    "usa": "USA",
    "eu": "EU",
    "diy": "DIY",
    "tv": "TV",
    "faq": "FAQ",
    "seo": "SEO",
    "ai": "AI",
    "led": "LED",
    "pdf": "PDF",
}


# Short words without a vowel that are not initialisms: units and abbreviations.
UNITS = frozenset("kg mg ml cm mm km lb lbs ft oz hr hrs mph pt qt sq vs".split())
# ...and titles of people and places, capitalised like words (Dr, Mrs, St).
TITLED = frozenset("mr mrs dr st".split())


def _title_word(word: str, first: bool) -> str:
    lower = word.lower()
    if lower in SPELLED:
        return SPELLED[lower]
    if not first and lower in SMALL:
        return lower
    if lower in UNITS:
        return word[:1].upper() + word[1:] if first else word
    if lower in TITLED:
        return lower.capitalize()
    if 2 <= len(word) <= 4 and word.isalpha() and not re.search(r"[aeiouy]", lower):
        return word.upper()  # an initialism: gps, mtb, ftp, bmx
    return word[:1].upper() + word[1:]


def titlecase(text: str) -> str:
    return " ".join(_title_word(w, i == 0) for i, w in enumerate(text.split()))


def topic_of(name: str) -> str:
    """What a title says a search is about: "best raised beds" is about raised beds, "how to
    prune roses" stays a question (titled by QUESTION_TITLES)."""
    text = re.sub(r"^(best|top)\s+", "", name.strip(), flags=re.I)
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
    Structure.HOW_TO: ["{T}: A Step-by-Step Guide", "{T} Made Simple", "{T}: A Practical Guide"],
    Structure.LISTICLE: [  # (n: the outline's numbered sections, ways of going about it)
        "{n} Ways to Approach {T}",
        "{T}: {n} Options Compared",
        "{n} Options for {T}",
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
        "{T}: {n} Ways to Approach It",
        "{T}: {n} Options Compared",
        "{T}: {n} Options",
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
        "Which one suits you",
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


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ASKING)


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def subjects(cluster: base.ClusterIn, count: int) -> list[tuple[str, list[str]]]:
    """Up to `count` (subject, target keywords) pairs: the cluster's topic first, then keywords
    of the cluster (the most searched first) that share under half their words with every
    subject before them. Each keyword is a target of the subject it shares most words with that
    has room (at most MOST_TARGETS a subject)."""
    words = [k.keyword for k in cluster.keywords] or [cluster.name]
    searched = sorted(cluster.keywords, key=lambda k: (-(k.volume or 0), len(k.keyword), k.keyword))
    # A cluster's topic comes first: its name, or when the name shares no word with any of its
    # keywords (named by a model), its most searched keyword (an idea aimed at a search).
    head = cluster.name
    if searched and not any(_words(topic_of(k.keyword)) & _words(topic_of(head)) for k in searched):
        head = searched[0].keyword
    chosen = [head]
    seen = [_words(topic_of(head))]
    for keyword in (k.keyword for k in searched):
        if len(chosen) == count:
            break
        own = _words(topic_of(keyword))
        if own and all(_overlap(own, other) < 0.5 for other in seen):
            chosen.append(keyword)
            seen.append(own)
    targets: list[list[str]] = [[s] if s in words else [] for s in chosen]
    for keyword in sorted(words, key=len):
        if keyword in chosen:
            continue
        nearest = sorted(range(len(chosen)), key=lambda i: (-_overlap(_words(keyword), seen[i]), i))
        for i in nearest:  # the nearest subject with room for it
            if len(targets[i]) < MOST_TARGETS:
                targets[i].append(keyword)
                break
    # (a cluster named apart from its keywords, whose keywords all went to other subjects, is
    # aimed at its name: never at the keywords another idea is about)
    return [(s, t or [s]) for s, t in zip(chosen, targets, strict=True)]


class Ideas:
    """Stage 2 of LocalProvider."""

    def generate_ideas(
        self, cluster: base.ClusterIn, count: int, taken_titles: set[str], profile=None
    ) -> list[base.IdeaOut]:
        if count < 1:
            return []
        taken = set(taken_titles)
        # One idea a distinct search of the cluster, up to `count`: two articles about one
        # search would compete for it, so a cluster of one search gets one article.
        about = subjects(cluster, count)
        head = choose_structures([k.keyword for k in cluster.keywords] or [cluster.name], 1)[0]
        plan = [(about[0], head)] + [((s, t), choose_structures([s], 1)[0]) for s, t in about[1:]]
        ideas: list[base.IdeaOut] = []
        for i, ((subject, targets), structure) in enumerate(plan):
            topic = titlecase(topic_of(subject))
            table = QUESTION_TITLES if QUESTION_START.match(topic) else TITLES
            outline = [
                s.format(T=topic)
                for s in OUTLINES[Structure(structure)][: 5 + (len(targets) + i) % 4]
            ]
            numbered = sum(bool(re.match(r"\d+\. ", h)) for h in outline)
            title = _unique_title(table[Structure(structure)], i, topic, taken, numbered or 5)
            taken.add(normalize(title))
            ideas.append(
                base.IdeaOut(
                    title=title, outline=outline, target_keywords=targets, structure=structure
                )
            )
        return ideas


def _unique_title(
    templates: list[str], offset: int, topic: str, taken: set[str], numbered: int
) -> str:
    """A title of `templates` no other idea of the site has; `numbered`: the outline's numbered
    sections, the number a list's title names."""
    suffixes = ["", " for Beginners", " This Year", " on a Budget"]
    for suffix in suffixes:
        for j in range(len(templates)):
            template = templates[(offset + j) % len(templates)]
            title = template.format(T=topic, n=numbered) + suffix
            if normalize(title) not in taken:
                return title
    n = 2
    while True:
        title = f"{templates[offset % len(templates)].format(T=topic, n=numbered)} (Part {n})"
        if normalize(title) not in taken:
            return title
        n += 1
