"""The offline provider's ideas (stage 2): each idea of a cluster answers its own searches. The
first is about the cluster's topic; each further one is about a keyword of the cluster that no
earlier idea covers, with the keywords nearest it, so that a cluster's articles do not repeat
one another. Only a cluster with fewer such keywords than ideas gets several angles (a guide, a
list, questions) on its one topic."""

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


def titlecase(text: str) -> str:
    small = {"a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}
    words = text.split()
    return " ".join(
        w if (i and w.lower() in small) else (w[:1].upper() + w[1:]) for i, w in enumerate(words)
    )


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
    chosen = [cluster.name]
    seen = [_words(topic_of(cluster.name))]
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
        about = subjects(cluster, count)
        # Ideas beyond the cluster's distinct subjects are further angles on its topic.
        angles = choose_structures([k.keyword for k in cluster.keywords] or [cluster.name], count)
        plan = [(about[0], angles[0])]
        plan += [((s, t), choose_structures([s], 1)[0]) for s, t in about[1:]]
        plan += [(about[0], structure) for structure in angles[1 : 1 + count - len(plan)]]
        ideas: list[base.IdeaOut] = []
        for i, ((subject, targets), structure) in enumerate(plan):
            topic = titlecase(topic_of(subject))
            table = QUESTION_TITLES if QUESTION_START.match(topic) else TITLES
            title = _unique_title(table[Structure(structure)], i, topic, taken)
            taken.add(normalize(title))
            outline = [
                s.format(T=topic)
                for s in OUTLINES[Structure(structure)][: 5 + (len(targets) + i) % 4]
            ]
            ideas.append(
                base.IdeaOut(
                    title=title, outline=outline, target_keywords=targets, structure=structure
                )
            )
        return ideas


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
