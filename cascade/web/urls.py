from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from cascade.web import settings_views, streams, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sites/", views.site_list, name="sites"),
    path("sites/go/", views.site_go, name="site-go"),
    path("sites/stream/", streams.sites_stream, name="sites-stream"),
    path("sites/<id:site_id>/settings/", settings_views.site_settings, name="site-settings"),
    path(
        "sites/<id:site_id>/settings/schedule/",
        settings_views.schedule_settings,
        name="schedule-settings",
    ),
]
