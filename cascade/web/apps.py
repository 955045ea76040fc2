from django.apps import AppConfig


class WebConfig(AppConfig):
    """The site's pages beside the Automation page: home, Sites, a site's Settings, health."""

    name = "cascade.web"
    label = "web"
    verbose_name = "Pages"
