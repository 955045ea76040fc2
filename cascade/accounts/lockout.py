"""Login throttling (django-axes): failures are counted per user name and per address
separately, and either reaching the limit locks; a good login clears only its own user name's
failures (axes' own reset would also clear every failure from the address, for every user name,
so anyone could reset the count against another user by logging in to their own account between
guesses). The answer to a locked attempt: 429 and how long to wait, on the login page's layout."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: dict | None = None
) -> HttpResponse:
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "wait": f"{minutes} minute{'s' * (minutes != 1)}" if minutes else "",
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


@receiver(user_logged_in, dispatch_uid="cascade-clear-own-login-failures")
def clear_own_failures(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """A good login proves the user name's password: its failures go, and only its own."""
    AccessAttempt.objects.filter(username=user.get_username()).delete()
