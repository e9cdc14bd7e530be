from django.core.management.base import BaseCommand, CommandError

from common.moments import parse_moment
from events.models import Source
from events.processing import REPROCESSABLE, deliveries_reprocess_matching
from events.selectors import FAILED_STATUSES, deliveries_matching


def _moment(text: str):
    try:
        return parse_moment(text)
    except ValueError as error:
        raise CommandError(str(error)) from None


class Command(BaseCommand):
    help = "Run deliveries through processing again, e.g. every failed one since a date."

    def add_arguments(self, parser):
        parser.add_argument(
            "--status",
            action="append",
            choices=[str(status) for status in REPROCESSABLE],
            help="Repeat for several (default: failed and dead).",
        )
        parser.add_argument("--since", help="Received at or after (date or ISO time, UTC).")
        parser.add_argument("--until", help="Received before (date or ISO time, UTC).")
        parser.add_argument("--event-type")
        parser.add_argument("--source", choices=Source.values)
        parser.add_argument("--dry-run", action="store_true", help="Count, queue nothing.")

    def handle(self, *args, **options):
        deliveries = deliveries_matching(
            statuses=options["status"] or FAILED_STATUSES,
            since=_moment(options["since"]) if options["since"] else None,
            until=_moment(options["until"]) if options["until"] else None,
            event_type=options["event_type"] or "",
            source=options["source"] or "",
        )
        if options["dry_run"]:
            self.stdout.write(f"{deliveries.count()} deliveries would be queued.")
            return
        queued, skipped = deliveries_reprocess_matching(deliveries=deliveries)
        self.stdout.write(f"{queued} deliveries queued for processing, {skipped} skipped.")
