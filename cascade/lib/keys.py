"""The server's secret key: from the environment, or generated once into the data directory
(readable by its owner only). A key anyone can read is refused when DEBUG is off."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# Keys published with earlier versions or with Django's project template: never a secret.
PUBLISHED = frozenset({"cascade-insecure-local-key-set-SECRET_KEY-in-production"})
KEY_FILE = "secret_key"


def is_published(key: str) -> bool:
    return key in PUBLISHED or key.startswith("django-insecure-")


def secret_key(given: str, data_dir: Path, debug: bool) -> str:
    if given:
        if is_published(given) and not debug:
            raise SystemExit(
                "SECRET_KEY is a published key that anyone can read. Unset it (a random key is "
                f"then generated into {data_dir / KEY_FILE}) or set a random one, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
            )
        return given
    return _from_file(data_dir / KEY_FILE)


def _from_file(path: Path) -> str:
    """Read the key file, or create it (mode 0600) if no process has yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise SystemExit(f"{path} is empty: delete it to generate a new key") from None
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return key
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key
