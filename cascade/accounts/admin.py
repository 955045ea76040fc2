from django.contrib import admin

from cascade.accounts.models import Account, ApiToken, LedgerEntry, Membership, Site


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "credits", "created_at"]
    search_fields = ["name"]


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
    list_display = ["created_at", "account", "run", "stage", "credits", "reason"]
    list_filter = ["stage"]
