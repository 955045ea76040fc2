"""API tokens may expire."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_ledger_is_the_balance")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
