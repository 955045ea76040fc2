from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from cascade.accounts import credits
from cascade.accounts.models import Account, Membership, Role
from cascade.lib.commands import Command as CascadeCommand
from cascade.lib.limits import text_problem


class Command(CascadeCommand):
    help = "Create (or update) a user and their membership of an account; creates the account if missing."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--password", required=True)
        parser.add_argument("--account", required=True)
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.OWNER)
        parser.add_argument(
            "--credits", type=int, help="set the account's balance (written to its ledger)"
        )
        parser.add_argument("--email", default="")

    @transaction.atomic
    def handle(self, name, password, account, role, credits: int | None, email, **options):
        if credits is not None and credits < 0:
            raise CommandError("--credits must be 0 or more")
        if not name.strip():
            raise CommandError("the user name may not be empty")
        for what, text in (("user name", name), ("account name", account), ("email", email)):
            if problem := text_problem(text):
                raise CommandError(f"the {what} {problem}: type it again without it")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=name, defaults={"email": email})
        # Setting the same password again would change its hash and log the user out everywhere.
        if created or not user.check_password(password):
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("the password is too weak: " + " ".join(exc.messages)) from None
            user.set_password(password)
            user.save()
        acct, _ = Account.objects.get_or_create(name=account)
        if credits is not None:
            _set_balance(acct, credits)
        Membership.objects.update_or_create(user=user, account=acct, defaults={"role": role})
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} user {name!r} ({role}) in account {acct.name!r} with {acct.credits:,} credits."
        )


def _set_balance(account: Account, balance: int) -> None:
    try:
        credits.set_balance(account, balance, note="Balance set by create_user")
    except ValueError as exc:
        raise CommandError(str(exc)) from None
