"""The password hasher of the test process: Django's PBKDF2 at one iteration. A stored hash
names its algorithm and iteration count, so a server a test starts verifies these passwords
with its own full-strength hasher (and strengthens them at the first login); the suite saves
the best part of a second for every person its fixtures create."""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1
