"""The base of Cascade's commands: a refusal reads `Error: <why>` on the terminal (exit 1),
not Django's `CommandError: <why>`, which names a class (and failed system checks lose their
`SystemCheckError:` head). Called from code (`call_command`), a command raises as usual."""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Any

from django.core.management.base import BaseCommand, CommandError, SystemCheckError


def version() -> str:
    """What `cascade --version` and `cascade COMMAND --version` print."""
    import django

    try:
        own = metadata.version("cascade")
    except metadata.PackageNotFoundError:
        own = "(not installed)"
    return f"Cascade {own} (Django {django.get_version()})"


class Command(BaseCommand):
    def get_version(self) -> str:
        return version()

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except CommandError as refusal:
            from_terminal = getattr(self, "_called_from_command_line", False)
            if not from_terminal or options.get("traceback"):
                raise
            if isinstance(refusal, SystemCheckError):  # (Django heads it with its class name)
                self.stderr.write(str(refusal).replace("SystemCheckError: ", "", 1), lambda x: x)
            else:
                self.stderr.write(f"Error: {refusal}")
            sys.exit(refusal.returncode)
