from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "cascade.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from cascade.automation import checks, engine, executor, rate_store  # noqa: F401

        executor.install()
        rate_store.install()
