from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cascade.accounts"
    label = "accounts"

    def ready(self) -> None:
        from cascade.accounts import lockout  # noqa: F401 (a good login clears its failures)
