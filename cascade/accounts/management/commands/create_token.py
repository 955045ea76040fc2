from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cascade.accounts.models import ApiToken


class Command(BaseCommand):
    help = "Print a new API token for a user, alone on one line. It is stored hashed and shown only once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the user name")
        parser.add_argument("--label", default="", help="what the token is for")

    def handle(self, name, label, **options):
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user named {name!r}; create one with `cascade create_user`.")
        _, raw = ApiToken.issue(user, label)
        self.stdout.write(raw)
