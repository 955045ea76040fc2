"""Admin lists for the rows of sites (keywords, clusters, ideas, tasks, articles, images)."""

from __future__ import annotations

from django.contrib import admin
from django.db import models


def register_rows(columns: dict[type[models.Model], list[str]]) -> None:
    """Register each model with its list columns, filtered by status, searched by its first
    text column, related rows loaded with the list and foreign keys edited as ids (a site has
    too many rows for drop-downs)."""
    for model, names in columns.items():
        fields = {f.name: f for f in model._meta.get_fields()}
        text = [n for n in names if isinstance(fields.get(n), models.CharField)][:1]
        keys = [n for n in names if isinstance(fields.get(n), models.ForeignKey)]
        admin.site.register(
            model,
            list_display=names,
            list_filter=["status"],
            search_fields=text,
            list_select_related=keys,
            raw_id_fields=[k for k in keys if k != "site"],
        )
