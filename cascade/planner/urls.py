from __future__ import annotations

from django.urls import path

from cascade.planner import lists, views

urlpatterns = [
    path("sites/<id:site_id>/keywords/", views.keywords, name="keywords"),
    path("sites/<id:site_id>/keywords/import/", views.import_keywords, name="keywords-import"),
    path("sites/<id:site_id>/clusters/", lists.clusters, name="clusters"),
    path("sites/<id:site_id>/ideas/", lists.ideas, name="ideas"),
]
