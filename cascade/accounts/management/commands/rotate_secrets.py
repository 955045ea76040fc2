"""Re-encrypt every stored secret with the current key, after SECRET_KEY or
CASCADE_ENCRYPTION_KEY changed (the former one listed in the *_FALLBACKS setting meanwhile)."""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from cascade.accounts import secrets
from cascade.lib.commands import Command as CascadeCommand

# (app label, model, field holding the encrypted secret, what it is for people)
STORED = [
    ("accounts", "Account", "ai_api_key_encrypted", "account AI key"),
    ("writer", "WordPress", "password_encrypted", "WordPress application password"),
    ("notify", "Webhook", "secret_encrypted", "webhook secret"),
]


class Command(CascadeCommand):
    help = "Re-encrypt stored secrets (AI keys, WordPress passwords, webhook secrets) with the current key."

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        for label, model_name, field, what in STORED:
            model = apps.get_model(label, model_name)
            with transaction.atomic():
                rows = model.objects.select_for_update().exclude(**{field: ""})
                for row in rows:
                    try:
                        setattr(row, field, secrets.rotate(getattr(row, field)))
                    except secrets.Undecryptable:
                        unreadable.append(f"{what} of {row}")
                        continue
                    row.save(update_fields=[field])
                    rotated += 1
        self.stdout.write(f"{rotated} stored secret{'s' * (rotated != 1)} re-encrypted.")
        for name in unreadable:
            self.stderr.write(
                f"Cannot decrypt the {name} with the current or former keys: enter it again."
            )
        if unreadable:
            raise SystemExit(1)
