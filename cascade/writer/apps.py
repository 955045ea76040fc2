from django.apps import AppConfig


class WriterConfig(AppConfig):
    name = "cascade.writer"
    label = "writer"
