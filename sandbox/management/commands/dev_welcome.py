import secrets
import textwrap

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from events.models import Source, WebhookEndpoint
from events.services import endpoint_create
from sandbox.samples import openvolt as openvolt_samples

LOCAL_ENDPOINT = "Local test events (created by make run)"
PASSWORD_FILE = settings.BASE_DIR / ".data" / "admin-password"
# Where the sandbox is mounted (config/urls.py); `make run` points OPENVOLT_API_URL there.
SANDBOX_PATH = "/sandbox/openvolt/v1"


class Command(BaseCommand):
    help = (
        "Development only: make sure there is an admin user and a local Openvolt endpoint, "
        "then print how to log in, how to send a first event and which Openvolt API is used."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port, **options):
        if not settings.DEBUG:
            raise CommandError("dev_welcome is for development (DEBUG=true) only.")
        login = self._login_line()
        if settings.REQUIRE_2FA:
            login += "\n  then set up an authenticator app and give its code (REQUIRE_2FA is on)"
        endpoint = WebhookEndpoint.objects.filter(description=LOCAL_ENDPOINT).first()
        if endpoint is None:
            endpoint, _ = endpoint_create(source=Source.OPENVOLT, description=LOCAL_ENDPOINT)
        base = f"http://127.0.0.1:{port}"
        url_option = "" if port == 8000 else f" --url {base}"
        types = textwrap.fill(
            f"Openvolt types: {', '.join(openvolt_samples.PAYLOADS)}. Their ids are the sandbox's, "
            "so the worker's calls to Openvolt succeed.",
            width=94,
            initial_indent="  ",
            subsequent_indent="  ",
            break_on_hyphens=False,
            break_long_words=False,
        )
        body = (
            '{"subscription_id": "local", "event_id": "customer.created", '
            '"event_timestamp": "2024-04-23T09:03:25.539Z", "delivery_id": "first-event-1", '
            '"payload": {"id": "6627795d54dc5b0961a08ae5", "name": "First Customer", '
            '"email": "first@example.com"}}'
        )
        self.stdout.write(
            f"""
Switchboard is starting on {base}/admin/
  Log in: {login}

Send a first event to the local Openvolt endpoint:
  curl -X POST {base}{endpoint.path} \\
       -H 'Content-Type: application/json' \\
       -d '{body}'
  Then open {base}/admin/events/delivery/ to see it.

Openvolt's API: {self._api_text(base)}

Send a realistic event of any type, as `stripe trigger` does (in another terminal):
  DEBUG=true .venv/bin/python manage.py send_test_event meter_data.received \\
       --endpoint {endpoint.id}{url_option}
{types}
  Nectar types (document.created.v2, connection.updated.v2, ...) need a Nectar endpoint:
    python manage.py create_webhook_endpoint --source nectar
"""
        )

    @staticmethod
    def _api_text(base: str) -> str:
        url = settings.OPENVOLT_API_URL
        if url == base + SANDBOX_PATH:
            if not settings.OPENVOLT_SANDBOX:
                return f"{url}\n  but OPENVOLT_SANDBOX is off: calls to Openvolt will fail."
            return (
                f"the sandbox, {url}/\n"
                "  A stand-in with 3 customers, 5 meters and 3 consents: no account needed.\n"
                "  To call Openvolt's own, set OPENVOLT_API_URL=https://api.openvolt.com/v1 "
                "and OPENVOLT_API_KEY."
            )
        if not settings.OPENVOLT_API_KEY:
            return f"{url}\n  but OPENVOLT_API_KEY is not set: calls to Openvolt will fail."
        return url

    def _login_line(self) -> str:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exclude(username="admin").exists():
            return "with your superuser account"
        if not users.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser("admin", "admin@localhost", password)
            PASSWORD_FILE.parent.mkdir(exist_ok=True)
            PASSWORD_FILE.write_text(password + "\n")
            PASSWORD_FILE.chmod(0o600)
        if PASSWORD_FILE.exists():
            return f"user 'admin', password '{PASSWORD_FILE.read_text().strip()}'"
        return "user 'admin' (change its password: python manage.py changepassword admin)"
