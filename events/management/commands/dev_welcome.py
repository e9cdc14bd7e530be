import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from events.models import Source, WebhookEndpoint
from events.services import endpoint_create

LOCAL_ENDPOINT = "Local test events (created by make run)"
PASSWORD_FILE = settings.BASE_DIR / ".data" / "admin-password"


class Command(BaseCommand):
    help = (
        "Development only: make sure there is an admin user and a local Openvolt endpoint, "
        "then print how to log in and how to send a first event."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port, **options):
        if not settings.DEBUG:
            raise CommandError("dev_welcome is for development (DEBUG=true) only.")
        login = self._login_line()
        endpoint = WebhookEndpoint.objects.filter(description=LOCAL_ENDPOINT).first()
        if endpoint is None:
            endpoint, _ = endpoint_create(source=Source.OPENVOLT, description=LOCAL_ENDPOINT)
        base = f"http://127.0.0.1:{port}"
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

More endpoints: python manage.py create_webhook_endpoint --source nectar
"""
        )

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
