"""Credit movements.

The balance (`Account.credits`) always equals the sum of the account's ledger: every change of
it writes a ledger row in the same transaction. Credits held for AI calls in flight
(`Account.reserved`) are not charges; they keep what can be spent (balance minus reserved) from
going below zero when many workers reserve at once, and turn into a charge when the work commits.
Every change is a conditional UPDATE, so no race can overdraw an account."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import F

from cascade.accounts.models import Account, LedgerEntry, LedgerKind
from cascade.accounts.signals import credits_added


def hold(account_id: int, credits: int) -> bool:
    """Hold `credits` for work about to start if the account can pay; the caller records the
    hold in the same transaction, so a crash cannot lose it."""
    if credits <= 0:
        return True
    won = Account.objects.filter(pk=account_id, credits__gte=F("reserved") + credits).update(
        reserved=F("reserved") + credits
    )
    return won == 1


def release(account_id: int, credits: int) -> None:
    """Give a hold back (the work did not happen)."""
    if credits > 0:
        Account.objects.filter(pk=account_id).update(reserved=F("reserved") - credits)


def _record(
    account_id: int,
    delta: int,
    kind: str,
    note: str,
    run_id=None,
    stage: int | None = None,
    balance: int | None = None,
) -> LedgerEntry:
    if balance is None:
        balance = Account.objects.filter(pk=account_id).values_list("credits", flat=True).get()
    return LedgerEntry.objects.create(
        account_id=account_id,
        run_id=run_id,
        stage=stage,
        kind=kind,
        delta=delta,
        balance_after=balance,
        note=note[:200],
    )


def _take(account_id: int, held: int, credits: int) -> int | None:
    """Release `held` and take `credits` in one conditional UPDATE; the new balance, or None when
    the account cannot pay that much. (Written out: it runs once per committed AI item.)"""
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET credits = credits - %s, reserved = reserved - %s "
            "WHERE id = %s AND credits - reserved + %s >= %s RETURNING credits",
            [credits, held, account_id, held, credits],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def charge(
    account_id: int, held: int, actual: int, *, note: str, run_id=None, stage: int | None = None
) -> int:
    """Inside the work's transaction: release the hold and charge the actual cost, as far as the
    account can pay (never below zero). Returns what was charged; writes its ledger row."""
    charged = max(0, actual)
    balance = _take(account_id, held, charged)
    if balance is None:
        # Costlier than held and more than is left: take what is left.
        release(account_id, held)
        account = Account.objects.select_for_update().get(pk=account_id)
        charged = max(0, account.credits - account.reserved)
        balance = _take(account_id, 0, charged)
    if charged:
        _record(account_id, -charged, LedgerKind.CHARGE, note, run_id, stage, balance)
    return charged


def add(account: Account | int, credits: int, note: str = "Top-up") -> int:
    """Add credits (a top-up) and return the new balance; runs waiting for credits resume."""
    if credits <= 0:
        raise ValueError("credits to add must be a positive whole number")
    account_id = account if isinstance(account, int) else account.pk
    with transaction.atomic():
        updated = Account.objects.filter(pk=account_id).update(credits=F("credits") + credits)
        if not updated:
            raise Account.DoesNotExist(f"account {account_id} does not exist")
        entry = _record(account_id, credits, LedgerKind.TOP_UP, note)
        transaction.on_commit(
            lambda: credits_added.send_robust(sender=Account, account_id=account_id)
        )
    if isinstance(account, Account):
        account.refresh_from_db(fields=["credits", "reserved"])
    return entry.balance_after


def set_balance(account: Account, credits: int, note: str = "Balance set by an operator") -> int:
    """Bring the balance to `credits` with one adjustment row (none if it is already there)."""
    if credits < 0:
        raise ValueError("a balance cannot be negative")
    with transaction.atomic():
        current = Account.objects.select_for_update().get(pk=account.pk)
        delta = credits - current.credits
        if delta < 0 and credits < current.reserved:
            raise ValueError(f"{current.reserved} credits are held by work in flight")
        if delta:
            Account.objects.filter(pk=account.pk).update(credits=F("credits") + delta)
            _record(account.pk, delta, LedgerKind.ADJUSTMENT, note)
            if delta > 0:
                transaction.on_commit(
                    lambda: credits_added.send_robust(sender=Account, account_id=account.pk)
                )
    account.refresh_from_db(fields=["credits", "reserved"])
    return account.credits
