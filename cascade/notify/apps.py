from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "cascade.notify"
    label = "notify"
    verbose_name = "Notifications"
