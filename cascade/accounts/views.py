"""The account page (balance, usage per run, the ledger, the AI key, the user's API tokens) and
creating a site."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from cascade.accounts import secrets, tokens
from cascade.accounts.access import memberships_of, sites_of
from cascade.accounts.models import CAN_OPERATE, LedgerKind, Membership, Role, Site
from cascade.accounts.naming import site_fields
from cascade.lib.paging import page_of

LEDGER_PER_PAGE = 50
NEW_TOKEN = "cascade.new_token"  # a token just made, in the session until it is shown


def _membership(request: HttpRequest) -> tuple[Membership | None, list[Membership]]:
    """The account the page is about (?account=ID, else the first owned, else the first)."""
    memberships = list(memberships_of(request.user).order_by("account__name"))
    wanted = request.GET.get("account", "")
    chosen = next((m for m in memberships if str(m.account_id) == wanted), None)
    chosen = chosen or next((m for m in memberships if m.role == Role.OWNER), None)
    return chosen or (memberships[0] if memberships else None), memberships


# Only the OpenAI-compatible provider takes an account's key (see `ai.get_provider`).
UNUSED_KEY = (
    "this server writes with its offline provider. An operator connects a real model with "
    "CASCADE_AI_PROVIDER=openai; from then on this account's runs use the key."
)


def keys_unused() -> bool:
    return settings.CASCADE_AI_PROVIDER != "openai"


def _save_key(request: HttpRequest, membership: Membership | None) -> HttpResponse:
    if membership is None or membership.role != Role.OWNER:
        raise Http404("Only an account's owner can change its AI key.")
    account = membership.account
    if request.POST.get("clear"):
        account.set_ai_key("")
        messages.success(request, "The API key was removed.")
    else:
        secret = request.POST.get("api_key", "").strip()
        if not secret or len(secret) > 500 or any(ord(c) < 33 for c in secret):
            messages.error(request, "Enter the API key as one word, without spaces.")
        else:
            account.set_ai_key(secret)
            saved = f"API key saved (ending {account.ai_api_key_hint})"
            if keys_unused():
                messages.warning(request, f"{saved}, but it is not used yet: {UNUSED_KEY}")
            else:
                messages.success(request, f"{saved}.")
    return redirect(f"{request.path}?account={account.pk}")


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    membership, memberships = _membership(request)
    if request.method == "POST":
        return _save_key(request, membership)
    new_token = request.session.pop(NEW_TOKEN, None)
    response = _page(request, membership, memberships, new_token=new_token)
    if new_token:  # shown once, and kept by no cache
        response["Cache-Control"] = "no-store"
    return response


def _charge_group(request: HttpRequest) -> tuple[uuid.UUID, int] | None:
    """The (run, stage) whose charges the ledger should list (`?run=…&stage=…`), if valid."""
    try:
        return uuid.UUID(request.GET.get("run", "")), int(request.GET.get("stage", ""))
    except ValueError:
        return None


def _page(
    request: HttpRequest,
    membership: Membership | None,
    memberships: list[Membership],
    status: int = 200,
    **extra: object,
) -> HttpResponse:
    context: dict = {
        "membership": membership,
        "memberships": memberships,
        "sites": sites_of(request.user),
        "tokens": tokens.of(request.user),
        "lifetimes": tokens.CHOICES,
        "now": timezone.now(),
        **extra,
    }
    if membership is not None and membership.role == Role.OWNER:
        ledger = membership.account.ledger.select_related("run__site").order_by("-id")
        group = _charge_group(request)
        if group is not None:  # one run's charges in one stage: a group's rows
            ledger = ledger.filter(kind=LedgerKind.CHARGE, run_id=group[0], stage=group[1])
            context["group"] = {"run": group[0], "stage": group[1]}
        else:  # a run's charges are grouped above; the rest row by row
            ledger = ledger.exclude(kind=LedgerKind.CHARGE, run__isnull=False)
        context["ledger"] = page_of(request, ledger, LEDGER_PER_PAGE)
        stored = membership.account.ai_api_key_encrypted
        context["key_unreadable"] = bool(stored) and secrets.readable(stored) is None
        context["key_unused"] = UNUSED_KEY if keys_unused() else ""
        usage: list[dict[str, Any]] = [
            dict(charges)
            for charges in membership.account.ledger.filter(
                kind=LedgerKind.CHARGE, run__isnull=False
            )
            .values("run_id", "run__site__name", "run__site_id", "run__created_at", "stage")
            .annotate(spent=-Sum("delta"), charges=Count("id"), note=Max("note"))
            .order_by("-run__created_at", "stage")[:140]  # the latest 20 runs' seven stages
        ]
        for charges in usage:  # a charge's note starts with its stage's name ("Ideas → …: …")
            charges["stage_name"] = charges["note"].split(":", 1)[0] if charges["note"] else ""
        context["usage"] = usage
    return render(request, "accounts/account_settings.html", context, status=status)


@login_required
@require_POST
def token_new(request: HttpRequest) -> HttpResponse:
    """Issue an API token for the user. It is shown once, on the Account page the browser is
    sent to (kept in the session until then, so a reload makes no second token)."""
    try:
        _, raw = tokens.issue(
            request.user, request.POST.get("name", ""), request.POST.get("expires", "")
        )
    except tokens.BadToken as exc:
        membership, memberships = _membership(request)
        return _page(request, membership, memberships, status=422, token_error=str(exc))
    request.session[NEW_TOKEN] = raw
    return redirect("account-settings")


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    if not tokens.revoke(request.user, token_id):
        raise Http404("No such token of yours.")
    messages.success(request, "The token was revoked: it no longer works.")
    return redirect("account-settings")


@login_required
@require_http_methods(["GET", "POST"])
def site_new(request: HttpRequest) -> HttpResponse:
    """Create a site in one of the accounts the user may change."""
    accounts = [m.account for m in memberships_of(request.user) if m.role in CAN_OPERATE]
    errors: dict[str, str] = {}
    values = {"name": "", "domain": "", "account": str(accounts[0].pk) if accounts else ""}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        name, domain, errors = site_fields(values["name"], values["domain"])
        account = next((a for a in accounts if str(a.pk) == values["account"]), None)
        if account is None:
            errors["account"] = "Choose an account you may add sites to."
        if not errors and account is not None:
            site = Site.objects.create(account=account, name=name, domain=domain)
            messages.success(request, f"Site “{site.name}” created. Import its keywords to begin.")
            return redirect("keywords", site.pk)
    context = {
        "accounts": accounts,
        "errors": errors,
        "values": values,
        "sites": sites_of(request.user),
    }
    return render(request, "accounts/site_new.html", context, status=422 if errors else 200)
