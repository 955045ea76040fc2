"""A site's writing settings page: tone, audience and language (the site's) and the target
length of articles (its automation configuration)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cascade.accounts.access import site_and_role, sites_of
from cascade.accounts.models import CAN_OPERATE
from cascade.automation import config as run_config


@login_required
@require_http_methods(["GET", "POST"])
def site_settings(request: HttpRequest, site_id: int) -> HttpResponse:
    site, role = site_and_role(request.user, site_id)
    if site is None:
        raise Http404("No such site.")
    can_edit = role in CAN_OPERATE
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and not can_edit:
        errors["form"] = "Your role may watch this site but not change it."
        status = 403
    elif request.method == "POST":
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
    context = {
        "site": site,
        "sites": sites_of(request.user),
        "errors": errors,
        "can_edit": can_edit,
        "target_words": run_config.load(site)["target_words"],
    }
    return render(request, "automation/site_settings.html", context, status=status)
