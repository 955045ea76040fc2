from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """12.3 -> "12s", 272 -> "4m 32s", 4000 -> "1h 6m"."""
    if seconds is None or seconds == "":
        return "—"
    total = int(float(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def rate(value) -> str:
    """Items per minute for people: 2819.8 -> "2,820", 12.34 -> "12.3"."""
    if value is None or value == "":
        return "—"
    number = float(value)
    return f"{number:,.0f}" if number >= 100 else f"{number:.1f}"
