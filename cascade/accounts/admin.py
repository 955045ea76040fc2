from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from cascade.accounts import credits
from cascade.accounts.models import Account, ApiToken, LedgerEntry, Membership, Site


class AddCreditsForm(forms.Form):
    amount = forms.IntegerField(min_value=1, max_value=1_000_000_000, label="Credits to add")
    note = forms.CharField(max_length=200, initial="Top-up", label="Note for the ledger")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "credits", "reserved", "created_at"]
    search_fields = ["name"]
    # Balances change only through the ledger (the "Add credits" action).
    readonly_fields = ["credits", "reserved", "ai_api_key_hint"]
    exclude = ["ai_api_key_encrypted"]
    actions = ["add_credits"]

    @admin.action(description="Add credits")
    def add_credits(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = AddCreditsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            amount, note = form.cleaned_data["amount"], form.cleaned_data["note"]
            for account in queryset:
                credits.add(account, amount, note=note)
            names = ", ".join(a.name for a in queryset)
            self.message_user(request, f"Added {amount:,} credits to {names}.", messages.SUCCESS)
            return None
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Add credits",
            "accounts": queryset,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/accounts/add_credits.html", context)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "account", "role"]
    list_filter = ["role"]


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "domain", "created_at"]
    search_fields = ["name", "domain"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "digest"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "account",
        "kind",
        "delta",
        "balance_after",
        "run",
        "stage",
        "note",
    ]
    list_filter = ["kind", "stage"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are written by credit movements, never by hand

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
