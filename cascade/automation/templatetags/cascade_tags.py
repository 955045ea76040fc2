from __future__ import annotations

import functools
import re

from django import template

from cascade.automation.wording import elapsed

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """A time that has passed: 12.3 -> "12s", 272 -> "4m 32s", 4000 -> "1h 06m"."""
    return elapsed(seconds)


@register.filter
def rate(value) -> str:
    """Items per minute for people: 2819.8 -> "2,820", 12.34 -> "12.3"."""
    if value is None or value == "":
        return "—"
    number = float(value)
    return f"{number:,.0f}" if number >= 100 else f"{number:.1f}"


@register.filter
def for_count(label: str, count) -> str:
    """A stage's noun for a count of items, as the registry spells it: "articles" for 1 is
    "article" (the snapshot names each stage's items and outputs in the plural)."""
    try:
        one = int(count) == 1
    except (TypeError, ValueError):
        return label
    from cascade.automation.stages import registry

    return _singulars(registry()).get(label, label) if one else label


@functools.lru_cache(maxsize=4)
def _singulars(stages) -> dict[str, str]:
    """The registry's nouns, plural to singular (once per registry: the live pages render
    this for every card of every update)."""
    return {n.many: n.one for spec in stages for n in (spec.noun, spec.makes)}


LEADING_SPACE = re.compile(r"\n\s+")  # indentation and blank lines


class DedentNode(template.Node):
    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: template.Context) -> str:
        return LEADING_SPACE.sub("\n", self.nodelist.render(context))


@register.tag
def dedent(parser: template.base.Parser, token: template.base.Token) -> DedentNode:
    """{% dedent %}…{% enddedent %}: the markup without the indentation of its lines and without
    blank lines (which the live fragments would otherwise carry on every update). Not for
    <pre> or <textarea>."""
    nodelist = parser.parse(("enddedent",))
    parser.delete_first_token()
    return DedentNode(nodelist)
