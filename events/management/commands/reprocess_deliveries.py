from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import make_aware

from events.models import Delivery, Source
from events.processing import REPROCESSABLE, deliveries_reprocess

BATCH = 500


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
        deliveries = Delivery.objects.filter(
            status__in=options["status"] or [Delivery.Status.FAILED, Delivery.Status.DEAD]
        )
        if options["since"]:
            deliveries = deliveries.filter(received_at__gte=_moment(options["since"]))
        if options["until"]:
            deliveries = deliveries.filter(received_at__lt=_moment(options["until"]))
        if options["event_type"]:
            deliveries = deliveries.filter(event_type=options["event_type"])
        if options["source"]:
            deliveries = deliveries.filter(source=options["source"])

        ids = list(deliveries.order_by("received_at", "id").values_list("pk", flat=True))
        if options["dry_run"]:
            self.stdout.write(f"{len(ids)} deliveries would be queued.")
            return
        queued = skipped = 0
        # Batches: one transaction per batch, not one holding every row lock at once.
        for offset in range(0, len(ids), BATCH):
            batch = Delivery.objects.filter(pk__in=ids[offset : offset + BATCH])
            batch_queued, batch_skipped = deliveries_reprocess(deliveries=batch)
            queued += batch_queued
            skipped += batch_skipped
        self.stdout.write(f"{queued} deliveries queued for processing, {skipped} skipped.")
