import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from events.supervisor import WorkerSupervisor


class Command(BaseCommand):
    help = (
        "Run the background worker, and keep it running: a worker that stops by itself (its "
        "database went away, say) is started again once the database answers."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=4, help="Jobs run at once (default: 4)."
        )
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            help="Only this queue's jobs; repeat for several (default: every queue).",
        )

    def handle(self, *args, **options):
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "procrastinate", "worker"]
        command += ["--concurrency", str(options["concurrency"])]
        if options["queues"]:
            command += ["--queues", ",".join(options["queues"])]
        status = WorkerSupervisor(command).run()
        if status:
            sys.exit(status)
