"""Credits held by items in flight used to be taken off the balance; now they stay in it and are
counted in `Account.reserved`, with a ledger row that gives them back to the balance."""

from django.db import migrations
from django.db.models import F, Sum


def move_holds(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    RunItem = apps.get_model("automation", "RunItem")
    held = (
        RunItem.objects.filter(state="processing", reserved_credits__gt=0)
        .values("run__site__account_id")
        .annotate(total=Sum("reserved_credits"))
    )
    for row in held:
        account_id, total = row["run__site__account_id"], row["total"]
        Account.objects.filter(pk=account_id).update(
            credits=F("credits") + total, reserved=F("reserved") + total
        )
        balance = Account.objects.filter(pk=account_id).values_list("credits", flat=True).get()
        LedgerEntry.objects.create(
            account_id=account_id,
            kind="adjustment",
            delta=total,
            balance_after=balance,
            note="Credits held by work in flight, now counted as reserved",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0002_ai_keys_and_usage"),
        ("accounts", "0004_ledger_is_the_balance"),
    ]

    operations = [migrations.RunPython(move_holds, migrations.RunPython.noop)]
