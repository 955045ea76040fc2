from __future__ import annotations

from django.urls import path

from cascade.notify import views

urlpatterns = [
    path(
        "sites/<id:site_id>/settings/notifications/",
        views.notifications,
        name="notifications",
    ),
    path(
        "sites/<id:site_id>/settings/notifications/email/",
        views.email_opt_in,
        name="notifications-email",
    ),
    path(
        "sites/<id:site_id>/settings/webhooks/<id:webhook_id>/remove/",
        views.remove_webhook,
        name="webhook-remove",
    ),
    path(
        "sites/<id:site_id>/settings/webhooks/<id:webhook_id>/deliveries/<uuid:delivery_id>/redeliver/",
        views.redeliver,
        name="webhook-redeliver",
    ),
]
