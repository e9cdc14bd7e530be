from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, transaction

from console.roles import roles_apply


class Command(BaseCommand):
    help = (
        "Gives the staff groups (Customer success, Integration admin) exactly the permissions "
        "console/roles.py defines. Run it after a migration adds models; running it again "
        "changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database, **options):
        try:
            with transaction.atomic(using=database):
                counts = roles_apply(using=database, strict=True)
        except LookupError as error:
            raise CommandError(f"The roles name something that does not exist: {error}") from None
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count} permissions")
