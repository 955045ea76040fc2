from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from cascade.accounts.models import Site
from cascade.lib.commands import Command as CascadeCommand
from cascade.planner.importing import ImportRefused, import_file


class Command(CascadeCommand):
    help = "Import keywords from a CSV file with a header row (keyword required; volume, difficulty, intent optional)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--site", type=int, required=True)

    def handle(self, file, site, **options):
        target = Site.objects.filter(pk=site).first()
        if target is None:
            raise CommandError(f"Site {site} does not exist.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            result = import_file(target, path.read_bytes())
        except ImportRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{result.created} created, {result.duplicates} duplicates, {len(result.rejected)} rejected"
        )
        for rejected in result.rejected[:20]:
            self.stdout.write(
                f"  row {rejected['row']}: {rejected['reason']} ({rejected['value']!r})"
            )
        if len(result.rejected) > 20:
            self.stdout.write(f"  … and {len(result.rejected) - 20} more")
