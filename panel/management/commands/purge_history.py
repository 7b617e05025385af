from django.conf import settings
from django.core.management.base import BaseCommand

from panel import retention


class Command(BaseCommand):
    help = (
        "Delete operations, audit events and webhook events past their retention "
        "(PANEL_RETAIN_*_DAYS), in batches; the daily schedule does the same."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=retention.BATCH, help="Rows per transaction"
        )

    def handle(self, *args, batch_size, **options):
        for name in ("OPERATIONS", "AUDIT", "WEBHOOK"):
            days = getattr(settings, f"PANEL_RETAIN_{name}_DAYS")
            kept = f"{days} days" if days > 0 else "for good"
            self.stdout.write(f"PANEL_RETAIN_{name}_DAYS: kept {kept}")
        deleted = retention.purge_history(batch=batch_size)
        for label, count in sorted(deleted.items()):
            self.stdout.write(f"{label}: {count} deleted")
        self.stdout.write(self.style.SUCCESS(retention.purge_report(deleted)))
