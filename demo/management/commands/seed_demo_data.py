from django.core.management.base import BaseCommand, CommandError

from demo.seeder import dashboard_recount, seed_demo_data


class Command(BaseCommand):
    help = (
        "Fill the database with demo data: endpoints, customers, meters, consents, follow-ups, "
        "connections, bills, deliveries over the last 90 days and half-hourly readings. "
        "Adds only what is missing: a second run with the same numbers adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--deliveries", type=int, default=10_000, help="default 10,000")
        parser.add_argument("--readings", type=int, default=100_000, help="default 100,000")
        parser.add_argument("--customers", type=int, default=300, help="default 300")

    def handle(self, *args, **options):
        try:
            added = seed_demo_data(
                deliveries=options["deliveries"],
                readings=options["readings"],
                customers=options["customers"],
                say=self._say,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        dashboard_recount(say=self._say)
        if not any(added.values()):
            self._say("Nothing to add: the demo data was there already.")

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
