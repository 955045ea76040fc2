"""The site's Publishing settings page: connect a WordPress, test it, change or disconnect it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cascade.accounts.access import page_site
from cascade.writer import connection
from cascade.writer.models import PostStatus

FIELDS = ("url", "username", "post_status")


@login_required
@require_http_methods(["GET", "POST"])
def publishing_settings(request: HttpRequest, site_id: int) -> HttpResponse:
    site, can_edit = page_site(request, site_id)
    errors: dict[str, str] = {}
    action = request.POST.get("action", "save")
    if request.method == "POST" and not can_edit:
        errors["form"] = "Your role may see these settings but not change them."
    elif request.method == "POST" and action == "disconnect":
        connection.disconnect(site)
        messages.success(request, "WordPress disconnected. Published posts stay in WordPress.")
        return redirect("publishing-settings", site.pk)
    elif request.method == "POST":
        values: dict[str, object] = {
            f: request.POST.get(f, "") for f in (*FIELDS, "application_password")
        }
        values["category_from_cluster"] = "category_from_cluster" in request.POST
        try:
            connection.save(site, values)
        except connection.ConnectionRefused as refusal:
            errors = refusal.errors
        else:
            if action == "test":
                worked, said = connection.test(site)
                (messages.success if worked else messages.error)(request, said)
            else:
                messages.success(request, "Publishing settings saved.")
            return redirect("publishing-settings", site.pk)
    current = connection.describe(site)
    form = dict(current or {"post_status": PostStatus.DRAFT, "category_from_cluster": True})
    if errors:
        form |= {f: request.POST.get(f, "") for f in FIELDS}
        form["category_from_cluster"] = "category_from_cluster" in request.POST
    context = {
        "site": site,
        "can_edit": can_edit,
        "connected": current is not None,
        "form": form,
        "errors": errors,
        "post_statuses": PostStatus.choices,
    }
    status = 403 if "form" in errors else 422 if errors else 200
    return render(request, "writer/publishing_settings.html", context, status=status)
