from datetime import UTC

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from events.retention import PRUNED_STATUSES, deliveries_prune, retention_cutoff


class Command(BaseCommand):
    help = (
        "Remove the deliveries that ended processed, ignored or rejected more than "
        "DELIVERY_RETENTION_DAYS ago, with their receipts, attempts and items, in short "
        "batches; failed and dead ones stay. The worker does the same every hour."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go, by status; remove nothing."
        )

    def handle(self, *args, dry_run, **options):
        now = timezone.now()
        pruned = deliveries_prune(now=now, dry_run=dry_run)
        by_status = ", ".join(
            f"{pruned.deliveries.get(status, 0)} {status}" for status in PRUNED_STATUSES
        )
        cutoff = retention_cutoff(now=now).astimezone(UTC)
        ended = (
            f"ended before {cutoff:%Y-%m-%d %H:%M} UTC "
            f"(DELIVERY_RETENTION_DAYS={settings.DELIVERY_RETENTION_DAYS})"
        )
        if dry_run:
            self.stdout.write(f"{pruned.total} deliveries would be removed ({by_status}), {ended}.")
            return
        self.stdout.write(f"{pruned.total} deliveries removed ({by_status}), {ended}.")
        if pruned.children:
            rows = ", ".join(f"{count} {table}" for table, count in sorted(pruned.children.items()))
            self.stdout.write(f"With their rows: {rows}.")
