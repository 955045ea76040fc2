"""The `cascade` command: Django's manage.py plus Cascade's own commands. Alone (or with
`--help`) it lists Cascade's commands; `cascade help --all` lists Django's too."""

from __future__ import annotations

import os
import sys

from cascade.lib.commands import version

ASKS_FOR_HELP: tuple[list[str], ...] = ([], ["help"], ["--help"], ["-h"])
# Django's commands an operator of Cascade needs, shown beside Cascade's own.
OPERATOR_COMMANDS = ("migrate", "check", "changepassword")


def usage() -> str:
    """Cascade's commands, each with the first sentence of its help."""
    import django
    from django.core.management import get_commands, load_command_class

    django.setup()
    lines = ["Usage: cascade COMMAND [options]   (cascade COMMAND --help for its options)", ""]
    commands = sorted(
        (name, app)
        for name, app in get_commands().items()
        if app.startswith("cascade") or name in OPERATOR_COMMANDS
    )
    width = max(len(name) for name, _ in commands)
    for name, app in commands:
        summary = load_command_class(app, name).help.split(". ")[0].rstrip(".")
        lines.append(f"  {name.ljust(width)}  {summary}")
    lines += ["", "cascade help --all lists every command, Django's too.", version()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cascade.settings")
    args = list(argv if argv is not None else sys.argv[1:])
    if args in (["--version"], ["version"]):
        print(version())
        return
    if args in ASKS_FOR_HELP:
        print(usage())
        return
    if args == ["help", "--all"]:
        args = ["help"]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["cascade", *args])


if __name__ == "__main__":
    main()
