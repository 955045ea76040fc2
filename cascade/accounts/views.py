"""Settings pages: a site's writing settings and an account's AI key."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cascade.accounts.access import site_and_role, sites_of
from cascade.accounts.models import CAN_OPERATE, Account, Role
from cascade.automation import config as run_config


@login_required
@require_http_methods(["GET", "POST"])
def site_settings(request, site_id: int):
    site, role = site_and_role(request.user, site_id)
    if site is None:
        raise Http404("No such site.")
    can_edit = role in CAN_OPERATE
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not can_edit:
            return render(
                request,
                "accounts/site_settings.html",
                {
                    "site": site,
                    "sites": sites_of(request.user),
                    "errors": {"form": "Your role may watch this site but not change it."},
                    "target_words": run_config.load(site)["target_words"],
                    "can_edit": False,
                },
                status=403,
            )
        values = {
            f: " ".join(request.POST.get(f, "").split()) for f in ("tone", "audience", "language")
        }
        for field, value in values.items():
            if len(value) > (40 if field == "language" else 200):
                errors[field] = "Too long."
        try:
            words = int(request.POST.get("target_words", ""))
            if not 300 <= words <= 5000:
                raise ValueError
        except ValueError:
            errors["target_words"] = "A whole number between 300 and 5000."
        if not errors:
            for field, value in values.items():
                setattr(site, field, value)
            site.save()
            run_config.save(site, {"target_words": words})
            messages.success(request, "Settings saved.")
            return redirect("site-settings", site.pk)
    return render(
        request,
        "accounts/site_settings.html",
        {
            "site": site,
            "sites": sites_of(request.user),
            "errors": errors,
            "can_edit": can_edit,
            "target_words": run_config.load(site)["target_words"],
        },
    )


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
