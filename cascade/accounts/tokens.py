"""API tokens as their users manage them: issued with an optional lifetime, listed, revoked."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.utils import timezone

from cascade.accounts.models import ApiToken
from cascade.lib.limits import text_problem

LIFETIME_RE = re.compile(r"^([1-9][0-9]{0,4})([hdwy])$")
UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
UNITS["y"] = timedelta(days=365)
CHOICES = [("30d", "30 days"), ("90d", "90 days"), ("1y", "1 year"), ("never", "Never")]
MAX_LIFE = timedelta(days=3650)


class BadToken(ValueError):
    pass


def lifetime(text: str) -> timedelta | None:
    """ "90d", "12h", "2w", "1y" as a duration; "never" (or nothing) as None."""
    text = (text or "").strip().lower()
    if text in ("", "never"):
        return None
    match = LIFETIME_RE.match(text)
    if match is None:
        raise BadToken(
            f"expires: {text!r} is not a lifetime; give a number and a unit, e.g. 12h, 90d, 2w, "
            "1y, or never"
        )
    life = int(match[1]) * UNITS[match[2]]
    if life > MAX_LIFE:
        raise BadToken("expires: at most 10 years")
    return life


def issue(user, name: str, expires: str) -> tuple[ApiToken, str]:
    name = name.strip()
    why = text_problem(name)
    if why or len(name) > 100:
        raise BadToken(f"name: {why or 'at most 100 characters'}")
    life = lifetime(expires)
    expires_at: datetime | None = timezone.now() + life if life else None
    return ApiToken.issue(user, name, expires_at)


def of(user) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user).order_by("-created_at"))


def revoke(user, token_id: int) -> bool:
    return ApiToken.objects.filter(user=user, pk=token_id).delete()[0] > 0
