"""The site's Notifications page: webhooks (add, remove, their deliveries, redeliver) and the
owner's email opt-in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from cascade.accounts.access import page_site
from cascade.accounts.models import Role
from cascade.notify import webhooks
from cascade.notify.models import Delivery, EmailOptIn, Event, Webhook

SHOWN_DELIVERIES = 10


def _context(request: HttpRequest, site: Any, can_edit: bool, **extra: Any) -> dict[str, Any]:
    user: Any = request.user
    recent = Delivery.objects.order_by("-id")
    hooks = Webhook.objects.filter(site=site).prefetch_related(
        Prefetch("deliveries", queryset=recent, to_attr="all_deliveries")
    )
    owner = getattr(site, "member_role", None) == Role.OWNER
    return {
        "site": site,
        "can_edit": can_edit,
        "hooks": [(h, h.all_deliveries[:SHOWN_DELIVERIES]) for h in hooks],
        "events": Event.choices,
        "owner": owner,
        "email_enabled": settings.CASCADE_EMAIL_ENABLED,
        "opted_in": EmailOptIn.objects.filter(user=user, account=site.account).exists(),
        "form": {"url": "", "events": list(webhooks.EVENTS)},
        "errors": {},
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest, site_id: int) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    if request.method == "GET":
        return render(request, "notify/notifications.html", _context(request, site, can_edit))
    if not can_edit:
        context = _context(request, site, can_edit)
        context["errors"] = {"form": "Your role may see these settings but not change them."}
        return render(request, "notify/notifications.html", context, status=403)
    url, events = request.POST.get("url", ""), list(request.POST.getlist("events"))
    form = {"url": url, "events": events}
    try:
        hook, secret = webhooks.add(site, url, events)
    except webhooks.BadWebhook as exc:
        context = _context(request, site, can_edit, form=form, errors={exc.field: exc.message})
        return render(request, "notify/notifications.html", context, status=422)
    # The secret is shown on this answer only: it is not stored in a readable form.
    context = _context(request, site, can_edit, created=hook, secret=secret)
    return render(request, "notify/notifications.html", context, status=201)


@login_required
@require_POST
def remove_webhook(request: HttpRequest, site_id: int, webhook_id: int) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    hook = get_object_or_404(Webhook, site=site, pk=webhook_id)
    if not can_edit:
        messages.error(request, "Your role may not remove webhooks.")
    else:
        hook.delete()
        messages.success(request, f"Webhook to {hook.url} removed.")
    return redirect("notifications", site.pk)


@login_required
@require_POST
def redeliver(
    request: HttpRequest, site_id: int, webhook_id: int, delivery_id: Any
) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    delivery = get_object_or_404(
        Delivery, webhook__site=site, webhook_id=webhook_id, delivery_id=delivery_id
    )
    if can_edit:
        delivery = webhooks.redeliver(delivery)
    if getattr(request, "htmx", False):
        context = {
            "site": site,
            "can_edit": can_edit,
            "delivery": delivery,
            "hook": delivery.webhook,
        }
        return render(request, "notify/notifications.html#delivery_row", context)
    if can_edit:
        messages.success(request, "The delivery will be sent again in a moment.")
    return redirect("notifications", site.pk)


@login_required
@require_POST
def email_opt_in(request: HttpRequest, site_id: int) -> HttpResponse:
    site, _ = page_site(request, site_id)
    user: Any = request.user
    if getattr(site, "member_role", None) != Role.OWNER:
        messages.error(request, "Email about runs is for the account's owners.")
    elif "email" in request.POST:
        address = request.POST.get("address", "").strip()
        try:
            validate_email(address)
        except ValidationError:
            messages.error(request, "Give the address the email should go to, e.g. me@example.com.")
            return redirect("notifications", site.pk)
        if address != user.email:
            user.email = address
            user.save(update_fields=["email"])
        EmailOptIn.objects.get_or_create(user=user, account=site.account)
        messages.success(
            request, f"Runs that do not succeed, and pauses, will be sent to {address}."
        )
    else:
        EmailOptIn.objects.filter(user=user, account=site.account).delete()
        messages.success(request, "You will no longer get email about this account's runs.")
    return redirect("notifications", site.pk)
