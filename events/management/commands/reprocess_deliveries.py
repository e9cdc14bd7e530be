from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import make_aware

from events.models import Source
from events.processing import REPROCESSABLE, deliveries_reprocess_matching
from events.selectors import FAILED_STATUSES, deliveries_matching


def _moment(text: str):
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"{text!r} is not a date (2026-11-23) or a time (2026-11-23T10:00).")
        moment = make_aware(parse_datetime(f"{day}T00:00"))
    return moment if moment.tzinfo else make_aware(moment)


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
