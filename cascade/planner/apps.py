from django.apps import AppConfig


class PlannerConfig(AppConfig):
    name = "cascade.planner"
    label = "planner"
