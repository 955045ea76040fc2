from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from cascade.accounts import tokens
from cascade.lib.commands import Command as CascadeCommand


class Command(CascadeCommand):
    help = "Print a new API token for a user, alone on one line. It is stored hashed and shown only once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the user name")
        parser.add_argument("--label", default="", help="what the token is for")
        parser.add_argument(
            "--expires",
            default="never",
            help="how long the token works: 12h, 90d, 2w, 1y or never (the default)",
        )

    def handle(self, name, label, expires, **options):
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user named {name!r}; create one with `cascade create_user`.")
        try:
            _, raw = tokens.issue(user, label, expires)
        except tokens.BadToken as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(raw)
