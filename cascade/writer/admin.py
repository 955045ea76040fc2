from django.contrib import admin

from cascade.writer.models import Content, Image, Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "site", "status", "target_words"]
    list_filter = ["status"]
    raw_id_fields = ["idea"]


@admin.register(Content)
class ContentAdmin(admin.ModelAdmin):
    list_display = ["title", "site", "status", "word_count", "is_offline_draft"]
    list_filter = ["status", "is_offline_draft"]
    search_fields = ["title"]
    raw_id_fields = ["task"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["content", "kind", "status", "file"]
    list_filter = ["status", "kind"]
    raw_id_fields = ["content"]
