from django.contrib import admin

from cascade.automation.models import (
    AutomationConfig,
    AutomationRun,
    RunEvent,
    RunItem,
    RunStage,
    StageTiming,
)


class RunStageInline(admin.TabularInline):
    model = RunStage
    extra = 0
    fields = readonly_fields = (
        "number",
        "status",
        "input_count",
        "processed_count",
        "failed_count",
        "in_progress_count",
        "output_count",
        "credits_used",
        "started_at",
        "finished_at",
    )


@admin.register(AutomationRun)
class AutomationRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "site",
        "status",
        "pause_reason",
        "current_stage",
        "credits_used",
        "created_at",
    ]
    list_filter = ["status", "trigger"]
    inlines = [RunStageInline]


@admin.register(RunItem)
class RunItemAdmin(admin.ModelAdmin):
    list_display = ["title", "run", "stage", "state", "attempts", "worker", "last_error"]
    list_filter = ["state", "stage"]
    search_fields = ["title"]


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ["at", "run", "kind", "stage", "message"]
    list_filter = ["kind"]


@admin.register(AutomationConfig)
class AutomationConfigAdmin(admin.ModelAdmin):
    list_display = ["site", "ideas_per_cluster", "images_per_content", "target_words"]


@admin.register(StageTiming)
class StageTimingAdmin(admin.ModelAdmin):
    list_display = ["site", "stage", "seconds_per_item", "updated_at"]
