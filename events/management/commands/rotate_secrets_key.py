from django.core.management.base import BaseCommand

from events.services import endpoint_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Encrypt every stored signing secret with the first key of SECRETS_ENCRYPTION_KEY, "
        "after a new key was put first; then the old keys can be dropped. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-secret-key",
            action="store_true",
            help="Also read the secrets encrypted with the key derived from SECRET_KEY, as "
            "they were while SECRETS_ENCRYPTION_KEY was unset.",
        )

    def handle(self, *args, **options):
        done = endpoint_secrets_reencrypt(with_secret_key=options["from_secret_key"])
        self.stdout.write(
            f"{done.reencrypted} signing secrets encrypted again with the first key, "
            f"{done.current} already were."
        )
        if done.undecryptable:
            self.stderr.write(
                f"{done.undecryptable} signing secrets cannot be decrypted with any key of "
                "SECRETS_ENCRYPTION_KEY and were left as they are: their endpoints raise the "
                "endpoint_secret_unreadable alert. Put their key back in the list and run this "
                "again, or rotate those endpoints' secrets."
            )
