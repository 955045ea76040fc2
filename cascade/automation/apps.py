from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "cascade.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from cascade.automation import checks, engine, executor, rate_store  # noqa: F401
        from cascade.automation.live_source import SOURCE
        from cascade.live.hub import hub

        executor.install()
        rate_store.install()
        hub.source = SOURCE  # the live views learn of the pipeline's commits
