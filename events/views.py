import logging

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from common.addresses import client_address
from events import intake
from events.schema import intake_schema

logger = logging.getLogger(__name__)

# Seconds a sender is asked to wait when the database cannot take its delivery.
RETRY_AFTER_SECONDS = 30


class WebhookIntakeView(APIView):
    """`POST /webhooks/<endpoint-uuid>/`: CONTRACT.md section 4."""

    authentication_classes = []
    permission_classes = []
    http_method_names = ["post"]

    @intake_schema
    def post(self, request, endpoint_id):
        try:
            endpoint = intake.endpoint_for_delivery(endpoint_id=endpoint_id)
            intake.request_shape_check(
                content_type=request.content_type or "",
                content_length=_content_length(request),
            )
            result = intake.webhook_receive(
                endpoint=endpoint,
                body=_body(request),
                headers={name.lower(): value for name, value in request.headers.items()},
                remote_addr=client_address(request),
            )
        except intake.IntakeError as error:
            return Response({"error": error.code, "detail": error.detail}, status=error.status)
        except intake.NotStored:
            # Already logged with its cause; the sender's retry may well be stored.
            return _unavailable()
        except intake.UNAVAILABLE:
            logger.exception("Database unavailable; asked the sender to retry")
            return _unavailable()
        if result.rejection:
            return Response(
                {
                    "error": "invalid_payload",
                    "detail": result.rejection,
                    "delivery": str(result.delivery_id),
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {"delivery": str(result.delivery_id), "duplicate": result.duplicate},
            status=status.HTTP_200_OK if result.duplicate else status.HTTP_202_ACCEPTED,
        )

    def http_method_not_allowed(self, request, *args, **kwargs):
        return Response(
            {"error": "method_not_allowed", "detail": "Deliveries are sent with POST."},
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
            headers={"Allow": "POST"},
        )


class UnknownEndpointView(WebhookIntakeView):
    """`/webhooks/<anything but a uuid>/`: no endpoint has such an address, said in JSON as
    for an unknown uuid (not Django's HTML page)."""

    @extend_schema(exclude=True)
    def post(self, request, endpoint_id):
        return Response(
            {"error": "unknown_endpoint", "detail": "No webhook endpoint has this address."},
            status=status.HTTP_404_NOT_FOUND,
        )


def _unavailable() -> Response:
    return Response(
        {"error": "unavailable", "detail": "Storage is unavailable; retry later."},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _body(request) -> bytes:
    """The body as sent. One sent with `Transfer-Encoding: chunked` has no Content-Length, so
    Django reads it as empty: it is read from the server's (de-chunked) input instead, up to
    WEBHOOK_MAX_BODY_BYTES."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked or request.META.get("CONTENT_LENGTH"):
        return request.body
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    body = request.META["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise intake.IntakeError(413, "payload_too_large", f"The body is over {limit} bytes.")
    return body


def _content_length(request) -> int | None:
    try:
        return int(request.META["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return None
