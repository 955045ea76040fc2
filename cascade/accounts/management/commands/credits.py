from __future__ import annotations

from django.core.management.base import CommandError

from cascade.accounts import credits
from cascade.accounts.models import Account
from cascade.lib.commands import Command as CascadeCommand
from cascade.lib.limits import digits


def find_account(name_or_id: str) -> Account:
    """An account by its exact name, or by its id."""
    account = Account.objects.filter(name=name_or_id).first()
    if account is None and digits(name_or_id):
        account = Account.objects.filter(pk=int(name_or_id)).first()
    if account is None:
        raise CommandError(f"No account named {name_or_id!r} (or with that id).")
    return account


class Command(CascadeCommand):
    help = "Top up an account's credits (a ledger row); runs paused for credits resume."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add credits to an account")
        add.add_argument("account", help="the account's name or id")
        add.add_argument("amount", type=int, help="credits to add (a positive whole number)")
        add.add_argument("--note", default="Top-up", help="why, for the ledger")
        show = sub.add_parser("balance", help="an account's balance and its latest ledger rows")
        show.add_argument("account")

    def handle(self, action, account, **options):
        target = find_account(account)
        if action == "balance":
            self.stdout.write(
                f"{target.name}: {target.credits:,} credits ({target.reserved:,} reserved)"
            )
            for row in target.ledger.order_by("-id")[:10]:
                self.stdout.write(
                    f"  {row.created_at:%Y-%m-%d %H:%M} {row.delta:+,} → {row.balance_after:,}"
                    f"  {row.note}"
                )
            return
        amount, note = options["amount"], options["note"].strip() or "Top-up"
        if amount <= 0:
            raise CommandError("The amount must be a positive whole number of credits.")
        balance = credits.add(target, amount, note=note)
        self.stdout.write(f"Added {amount:,} credits to {target.name}: balance {balance:,}.")
