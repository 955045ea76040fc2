from __future__ import annotations

from django.contrib import admin

from cascade.notify.models import Delivery, Webhook


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("url", "site", "events", "created_at")
    exclude = ("secret_encrypted",)
    readonly_fields = ("site", "url", "events", "created_at")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "event", "webhook", "status", "attempts", "created_at")
    list_filter = ("status", "event")
    readonly_fields = [f.name for f in Delivery._meta.fields]
