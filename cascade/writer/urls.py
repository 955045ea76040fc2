from __future__ import annotations

from django.urls import path, re_path

from cascade.writer import publishing_views, views

urlpatterns = [
    re_path(r"^media/(?P<path>.*)$", views.media, name="media"),
    path("sites/<int:site_id>/content/", views.articles, name="articles"),
    path("sites/<int:site_id>/content/export/", views.export, name="articles-export"),
    path(
        "sites/<int:site_id>/content/publishing/",
        views.publish_progress,
        name="publish-progress",
    ),
    path("sites/<int:site_id>/content/<int:content_id>/", views.article, name="article"),
    path(
        "sites/<int:site_id>/content/<int:content_id>/edit/",
        views.article_edit,
        name="article-edit",
    ),
    path(
        "sites/<int:site_id>/settings/publishing/",
        publishing_views.publishing_settings,
        name="publishing-settings",
    ),
]
