"""The balance becomes the sum of the ledger: ledger rows get a signed delta, the balance after
them and a kind; every account gets an opening row for what its ledger did not explain; holds for
work in flight move to their own column (`reserved`)."""

from django.db import migrations, models
from django.db.models import F, Sum


def open_ledgers(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    LedgerEntry = apps.get_model("accounts", "LedgerEntry")
    # Old rows recorded charges as positive numbers.
    LedgerEntry.objects.update(delta=-F("delta"))
    for account in Account.objects.all():
        rows = list(LedgerEntry.objects.filter(account=account).order_by("id"))
        explained = sum(r.delta for r in rows)
        opening = account.credits - explained
        balance = 0
        if opening:
            first = LedgerEntry.objects.create(
                account=account,
                kind="adjustment",
                delta=opening,
                balance_after=opening,
                note="Opening balance",
            )
            if rows:
                LedgerEntry.objects.filter(pk=first.pk).update(created_at=rows[0].created_at)
            balance = opening
        for row in rows:
            balance += row.delta
            LedgerEntry.objects.filter(pk=row.pk).update(balance_after=balance)
    assert all(
        (LedgerEntry.objects.filter(account=a).aggregate(t=Sum("delta"))["t"] or 0) == a.credits
        for a in Account.objects.all()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_ai_keys_and_usage"),
        ("automation", "0002_ai_keys_and_usage"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="reserved",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RenameField(model_name="ledgerentry", old_name="credits", new_name="delta"),
        migrations.RenameField(model_name="ledgerentry", old_name="reason", new_name="note"),
        migrations.AddField(
            model_name="ledgerentry",
            name="balance_after",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ledgerentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("charge", "Charge"),
                    ("top_up", "Top Up"),
                    ("adjustment", "Adjustment"),
                ],
                default="charge",
                max_length=12,
            ),
        ),
        migrations.RunPython(open_ledgers, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["account", "-id"], name="accounts_le_account_b30cf2_idx"),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("credits__gte", models.F("reserved")), ("reserved__gte", 0)),
                name="reserved_within_balance",
            ),
        ),
    ]
