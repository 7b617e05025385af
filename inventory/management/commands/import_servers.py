from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.importing import COLUMNS, CONNECTION_HELP, import_servers


class Command(BaseCommand):
    help = (
        "Enrol servers with their BMC credentials from a CSV file, all rows or none. "
        f"Columns: {', '.join(COLUMNS)}. {CONNECTION_HELP}"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file (UTF-8, with a header row)")

    def handle(self, *args, file, **options):
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        report = import_servers(actor=None, text=text)
        if not report.ok:
            for line, reason in report.refused:
                self.stderr.write(f"line {line}: {reason}")
            raise CommandError(f"Nothing imported: {len(report.refused)} row(s) refused.")
        self.stdout.write(f"Enrolled {len(report.enrolled)} servers: {', '.join(report.enrolled)}")
