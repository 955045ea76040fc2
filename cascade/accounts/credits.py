"""Credit movements. Every change is a conditional UPDATE, so the balance never goes negative
even when many workers reserve at once."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from cascade.accounts.models import Account


def reserve(account_id: int, credits: int) -> bool:
    """Take `credits` off the balance if it can pay; the caller must be inside a transaction
    that also records the reservation, so a crash cannot lose it."""
    if credits <= 0:
        return True
    won = Account.objects.filter(pk=account_id, credits__gte=credits).update(
        credits=F("credits") - credits
    )
    return won == 1


def give_back(account_id: int, credits: int) -> None:
    if credits > 0:
        Account.objects.filter(pk=account_id).update(credits=F("credits") + credits)


def settle(account_id: int, reserved: int, actual: int) -> int:
    """Turn a reservation into the actual charge; returns what was really charged.

    When the actual cost exceeds the reservation, the extra is taken only as far as the balance
    allows: the balance stays at or above zero and the ledger records what was taken."""
    if actual <= reserved:
        give_back(account_id, reserved - actual)
        return actual
    extra = actual - reserved
    if reserve(account_id, extra):
        return actual
    balance = Account.objects.filter(pk=account_id).values_list("credits", flat=True).first() or 0
    taken = balance if reserve(account_id, balance) else 0
    return reserved + taken


def top_up(account: Account, credits: int) -> None:
    """Add credits and resume runs that paused because the account could not pay."""
    from cascade.automation.engine import resume_runs_waiting_for_credits

    with transaction.atomic():
        Account.objects.filter(pk=account.pk).update(credits=F("credits") + credits)
    account.refresh_from_db(fields=["credits"])
    resume_runs_waiting_for_credits(account.pk)


def set_balance(account: Account, credits: int) -> None:
    Account.objects.filter(pk=account.pk).update(credits=max(0, credits))
    account.refresh_from_db(fields=["credits"])
    from cascade.automation.engine import resume_runs_waiting_for_credits

    resume_runs_waiting_for_credits(account.pk)
