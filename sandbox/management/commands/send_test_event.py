import json
import logging
import uuid

import httpx
from django.core.management.base import BaseCommand, CommandError

from events.models import EndpointSecret, Source, WebhookEndpoint
from sandbox import samples


class Command(BaseCommand):
    help = (
        "Send a realistic delivery of an event type to one of your endpoints, as Openvolt or "
        "Nectar would (like `stripe trigger`). Openvolt samples name the sandbox's customers, "
        "meters and consents; Nectar samples are signed with the endpoint's secret."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "event_type",
            help="Openvolt: "
            + ", ".join(_types_of(Source.OPENVOLT))
            + ". Nectar: "
            + ", ".join(_types_of(Source.NECTAR))
            + ".",
        )
        parser.add_argument("--endpoint", required=True, help="The endpoint's id (a UUID).")
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="Where Switchboard is served (default: http://127.0.0.1:8000).",
        )
        parser.add_argument(
            "--delivery-id",
            help="Openvolt's delivery_id or Nectar's svix-id; reuse one to send a retry. "
            "Default: a fresh one.",
        )

    def handle(self, *args, event_type, endpoint, url, delivery_id, **options):
        endpoint = _endpoint(endpoint)
        source = samples.source_of(event_type)
        if source is None:
            raise CommandError(
                f"Unknown event type {event_type!r}. Openvolt: "
                f"{', '.join(_types_of(Source.OPENVOLT))}. Nectar: "
                f"{', '.join(_types_of(Source.NECTAR))}."
            )
        if source != endpoint.source:
            raise CommandError(
                f"{event_type} is sent by {Source(source).label}, but endpoint {endpoint.id} "
                f"receives {endpoint.get_source_display()} deliveries. Pick an endpoint of "
                f"{Source(source).label} (create_webhook_endpoint --source {source})."
            )
        sample = samples.build(
            event_type,
            delivery_id=delivery_id,
            subscription_id=endpoint.openvolt_subscription_id or None,
            secret=_signing_secret(endpoint) if source == Source.NECTAR else None,
        )
        target = url.rstrip("/") + endpoint.path
        # httpx logs each request at INFO: the two lines printed below say it already.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.stdout.write(f"POST {target}  {event_type}, delivery {sample.delivery_id}")
        try:
            response = httpx.post(target, content=sample.body, headers=sample.headers, timeout=30)
        except httpx.HTTPError as error:
            raise CommandError(
                f"Could not reach {target}: {error}. Is Switchboard running (make run)?"
            ) from error
        self.stdout.write(f"{response.status_code} {_answer(response)}")
        if response.is_error:
            raise CommandError(f"The endpoint refused the delivery ({response.status_code}).")


def _types_of(source: str) -> list[str]:
    return [name for name, of in samples.EVENT_SOURCES.items() if of == source]


def _endpoint(endpoint_id: str) -> WebhookEndpoint:
    try:
        key = uuid.UUID(endpoint_id)
    except ValueError:
        raise CommandError(
            f"--endpoint must be an endpoint's id (a UUID), not {endpoint_id!r}."
        ) from None
    endpoint = WebhookEndpoint.objects.filter(pk=key).first()
    if endpoint is None:
        raise CommandError(
            f"No endpoint {endpoint_id}. See them in the admin, or create one: "
            "python manage.py create_webhook_endpoint --source openvolt"
        )
    return endpoint


def _signing_secret(endpoint: WebhookEndpoint) -> str:
    """The newest active secret, the one Svix signs with after a rotation."""
    newest = (
        EndpointSecret.objects.filter(endpoint=endpoint).active().order_by("-created_at").first()
    )
    if newest is None:
        raise CommandError(f"Endpoint {endpoint.id} has no active signing secret.")
    secret = newest.secret
    if secret is None:
        raise CommandError(
            f"The newest signing secret of endpoint {endpoint.id} cannot be decrypted with "
            "SECRETS_ENCRYPTION_KEY."
        )
    return secret


def _answer(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json())
    except ValueError:
        return response.text[:500]
