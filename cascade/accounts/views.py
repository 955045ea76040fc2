"""The account page: its AI key."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cascade.accounts.access import sites_of
from cascade.accounts.models import Account, Role


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request):
    owned = [
        m.account
        for m in request.user.memberships.select_related("account")
        if m.role == Role.OWNER
    ]
    account: Account | None = owned[0] if owned else None
    if request.method == "POST":
        if account is None:
            raise Http404("Only an account's owner can change its AI key.")
        if request.POST.get("clear"):
            account.set_ai_key("")
            messages.success(request, "The API key was removed.")
        else:
            secret = request.POST.get("api_key", "").strip()
            if not secret or len(secret) > 500 or any(ord(c) < 33 for c in secret):
                messages.error(request, "Enter the API key as one word, without spaces.")
            else:
                account.set_ai_key(secret)
                messages.success(request, f"API key saved (ending {account.ai_api_key_hint}).")
        return redirect("account-settings")
    return render(
        request,
        "accounts/account_settings.html",
        {"account": account, "sites": sites_of(request.user)},
    )
