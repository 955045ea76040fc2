from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "cascade.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        from cascade.automation import checks, engine, executor  # noqa: F401  (receivers, checks)

        executor.install()
