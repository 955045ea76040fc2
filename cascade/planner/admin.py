from django.contrib import admin

from cascade.planner.models import Cluster, ContentIdea, Keyword


@admin.register(Keyword)
class KeywordAdmin(admin.ModelAdmin):
    list_display = ["keyword", "site", "status", "cluster", "volume", "intent", "disabled"]
    list_filter = ["status", "disabled", "intent"]
    search_fields = ["keyword"]
    raw_id_fields = ["cluster"]


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "status", "keyword_count", "disabled"]
    list_filter = ["status", "disabled"]
    search_fields = ["name"]


@admin.register(ContentIdea)
class ContentIdeaAdmin(admin.ModelAdmin):
    list_display = ["title", "site", "structure", "status"]
    list_filter = ["status", "structure"]
    search_fields = ["title"]
    raw_id_fields = ["cluster"]
