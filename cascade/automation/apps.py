from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "cascade.automation"
    label = "automation"
    verbose_name = "Automation"
