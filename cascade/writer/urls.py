from __future__ import annotations

from django.urls import include, path, re_path

from cascade.writer import article_views, publishing_views, views

# A site's articles, under /sites/<site_id>/content/.
content = [
    path("", views.articles, name="articles"),
    path("export/", views.export, name="articles-export"),
    path("publishing/", views.publish_progress, name="publish-progress"),
    path("<id:content_id>/", article_views.article, name="article"),
    path("<id:content_id>/edit/", article_views.article_edit, name="article-edit"),
]
publishing = publishing_views.publishing_settings

urlpatterns = [
    re_path(r"^media/(?P<path>.*)$", views.media, name="media"),
    path("sites/<id:site_id>/content/", include(content)),
    path("sites/<id:site_id>/settings/publishing/", publishing, name="publishing-settings"),
]
