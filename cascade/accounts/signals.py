"""What the accounts app tells others, without knowing who listens."""

from __future__ import annotations

from django.dispatch import Signal

# Sent (after commit) with `account_id` when credits were added to an account: runs that
# paused because the account could not pay resume (the automation app listens).
credits_added = Signal()
