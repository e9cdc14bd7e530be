from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from events.daily_counts import delivery_daily_counts_recount
from meters.readings import readings_received_daily_rebuild


class Command(BaseCommand):
    help = (
        "Recount the dashboard's daily counts of deliveries over a range of days (the "
        "background worker keeps the last 31 days current); with --readings, rebuild the "
        "daily counts of readings received too. For demo data, imports and repairs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=31, help="The last DAYS days, today included (31)."
        )
        parser.add_argument(
            "--since", type=date.fromisoformat, help="First day, YYYY-MM-DD (instead of --days)."
        )
        parser.add_argument(
            "--until", type=date.fromisoformat, help="Last day, YYYY-MM-DD (default: today)."
        )
        parser.add_argument(
            "--readings",
            action="store_true",
            help="Also rebuild the readings received per day, from when each stored value "
            "arrived. Reads the whole readings table once.",
        )

    def handle(self, *args, days, since, until, readings, **options):
        last_day = until or timezone.localdate()
        first_day = since or last_day - timedelta(days=days - 1)
        if first_day > last_day:
            raise CommandError("The first day comes after the last.")
        counted = delivery_daily_counts_recount(first_day=first_day, last_day=last_day)
        self.stdout.write(f"Deliveries recounted for {counted} days, {first_day} to {last_day}.")
        if readings:
            total = readings_received_daily_rebuild(first_day=first_day, last_day=last_day)
            self.stdout.write(f"Readings received rebuilt: {total:,} over those days.")
