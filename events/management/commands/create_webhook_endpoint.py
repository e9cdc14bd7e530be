import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from events.models import Source
from events.services import endpoint_create


class Command(BaseCommand):
    help = "Create a webhook endpoint and print it as one line of JSON."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, choices=Source.values)
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--secret", help="Nectar only: the whsec_… secret Svix signs with (else generated)."
        )
        parser.add_argument(
            "--subscription-id",
            default="",
            help="Openvolt only: accept envelopes of this subscription and refuse others.",
        )

    def handle(self, *args, **options):
        try:
            endpoint, secret = endpoint_create(
                source=options["source"],
                description=options["description"],
                secret=options["secret"],
                openvolt_subscription_id=options["subscription_id"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        line = {
            "id": str(endpoint.id),
            "source": endpoint.source,
            "path": endpoint.path,
            "secret": secret,
        }
        self.stdout.write(json.dumps(line))
