from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cascade.accounts"
    label = "accounts"
