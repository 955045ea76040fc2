from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cascade.accounts.models import Account, Membership, Role


class Command(BaseCommand):
    help = "Create (or update) a user and their membership of an account; creates the account if missing."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--password", required=True)
        parser.add_argument("--account", required=True)
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.OWNER)
        parser.add_argument("--credits", type=int, help="set the account's credit balance")
        parser.add_argument("--email", default="")

    @transaction.atomic
    def handle(self, name, password, account, role, credits, email, **options):
        if credits is not None and credits < 0:
            raise CommandError("--credits must be 0 or more")
        if not name.strip():
            raise CommandError("the user name may not be empty")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=name, defaults={"email": email})
        user.set_password(password)
        user.save()
        acct, _ = Account.objects.get_or_create(name=account)
        if credits is not None:
            Account.objects.filter(pk=acct.pk).update(credits=credits)
            acct.refresh_from_db()
        Membership.objects.update_or_create(user=user, account=acct, defaults={"role": role})
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} user {name!r} ({role}) in account {acct.name!r} with {acct.credits} credits."
        )
