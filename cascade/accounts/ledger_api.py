"""An account's ledger (contract §10): every change of its balance, newest first, for its
owners. The balance is always the sum of these rows."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate

from cascade.accounts.access import role_in
from cascade.accounts.models import LedgerEntry, LedgerKind, Role
from cascade.lib.paging import Paging
from cascade.lib.schemas import READ_ERRORS

# (No `from __future__ import annotations`: Ninja's `@paginate` resolves the view's
# annotations in its own module.)

router = Router()  # mounted under /v1/accounts/


class LedgerRow(Schema):
    id: int
    at: datetime
    kind: LedgerKind
    delta: int  # negative for charges
    balance_after: int
    run_id: str | None
    stage: int | None
    note: str

    @staticmethod
    def resolve_at(row: LedgerEntry) -> datetime:
        return row.created_at

    @staticmethod
    def resolve_run_id(row: LedgerEntry) -> str | None:
        return str(row.run_id) if row.run_id else None


@router.get(
    "{id:account_id}/ledger/",
    response={200: list[LedgerRow], **READ_ERRORS},
    summary="List the account's ledger, newest first",
)
@paginate(Paging)
def ledger(request: HttpRequest, account_id: int):
    role = role_in(request.user, account_id)
    if role is None:
        raise HttpError(404, f"Account {account_id} not found.")
    if role != Role.OWNER:
        raise HttpError(403, f"Only the account's owners see its ledger; your role is {role}.")
    return LedgerEntry.objects.filter(account_id=account_id).order_by("-id")
