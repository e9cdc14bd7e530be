"""The intake's OpenAPI description (drf-spectacular): these serializers document, they never
validate; the view reads requests as events/intake.py does. `/api/schema/` serves it.

The body is one of two: an Openvolt envelope, itself one of the event types Switchboard acts
on (told apart by `event_id`, each with its payload), or a Nectar event (told by
`eventType`, signed with Svix headers). Other event types are stored and answered 202 too,
then marked `ignored`.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers

DESCRIPTION = """Stores one delivery of Openvolt or Nectar, with its processing job, before
answering 2xx: an acknowledged delivery is never lost.

The body is an Openvolt envelope (`event_id` names the event type; the types below are the
ones Switchboard acts on, any other is stored and answered 202, then marked `ignored`) or a
Nectar event (`eventType`), signed with the Svix headers by the endpoint's `whsec_` secret.
"""


def intake_only(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: the description covers the intake alone."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/webhooks/")]


def response_headers(result, generator, request, public):
    """drf-spectacular postprocessing hook: the headers that go with some answers."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if "503" in responses:
                responses["503"]["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "required": True,
                        "description": "Seconds to wait before sending again.",
                    }
                }
    return result


# Openvolt payloads, one per event type. Fields beyond these may come and are kept.


class MeterDataItem(serializers.Serializer):
    meter_id = serializers.CharField()
    start_interval = serializers.CharField(help_text="ISO 8601 timestamp.")
    end_interval = serializers.CharField(help_text="ISO 8601 timestamp.")


class HostedConsentRef(serializers.Serializer):
    hosted_consent_id = serializers.CharField()


class OpenvoltCustomer(serializers.Serializer):
    id = serializers.CharField()
    account = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    address = serializers.CharField(required=False)
    created_at = serializers.CharField(required=False)


class OpenvoltUser(serializers.Serializer):
    id = serializers.CharField()
    account = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    role = serializers.CharField(required=False)


class OpenvoltMeter(serializers.Serializer):
    id = serializers.CharField()
    meter_number = serializers.CharField(required=False)
    customer = serializers.CharField(required=False)
    data_source = serializers.CharField(required=False)
    status = serializers.CharField(required=False)


class OpenvoltHostedConsent(serializers.Serializer):
    id = serializers.CharField()
    customer = OpenvoltCustomer(required=False)
    meter_numbers = serializers.ListField(child=serializers.CharField(), required=False)
    flow_type = serializers.CharField(required=False)
    expiry = serializers.CharField(required=False)
    valid = serializers.BooleanField(required=False)
    revoked_at = serializers.CharField(required=False, allow_null=True)
    updated_at = serializers.CharField(required=False)


class OpenvoltApiKeys(serializers.Serializer):
    id = serializers.CharField()
    live_api_key = serializers.CharField(
        required=False, help_text="Masked before anything is stored: its last four kept."
    )


def _text(**kwargs) -> serializers.Field:
    """A string with something besides spaces in it, as the intake requires."""
    return serializers.RegexField(r"\S", max_length=255, **kwargs)


class _Envelope(serializers.Serializer):
    subscription_id = _text(help_text="Refused (403) when the endpoint is bound to another.")
    event_timestamp = serializers.DateTimeField(help_text="When the event happened.")
    delivery_id = _text(help_text="The same id again is a duplicate.")


def _envelope(event_type: str, payload: serializers.Field) -> type[serializers.Serializer]:
    name = "Openvolt" + "".join(part.title() for part in event_type.replace(".", "_").split("_"))
    return type(
        name,
        (_Envelope,),
        {
            "event_id": serializers.ChoiceField(choices=[event_type], help_text="The event type."),
            "payload": payload,
            "Meta": type("Meta", (), {"ref_name": name}),
        },
    )


OPENVOLT_ENVELOPES = {
    "meter_data.received": _envelope("meter_data.received", MeterDataItem(many=True)),
    "hosted_consent.approved": _envelope("hosted_consent.approved", HostedConsentRef(many=True)),
    "hosted_consent.revoked": _envelope("hosted_consent.revoked", OpenvoltHostedConsent()),
    "customer.created": _envelope("customer.created", OpenvoltCustomer()),
    "user.created": _envelope("user.created", OpenvoltUser()),
    "meter.created": _envelope("meter.created", OpenvoltMeter()),
    "api_keys.rotated": _envelope("api_keys.rotated", OpenvoltApiKeys()),
}


class NectarEvent(serializers.Serializer):
    # Nectar's own spelling.
    eventType = serializers.CharField(
        help_text="connection.created(.v2), document.created(.v2), document.deleted.v2, …"
    )
    id = serializers.CharField(required=False)


class DeliveryStored(serializers.Serializer):
    delivery = serializers.CharField(help_text="Switchboard's id of the delivery.")
    duplicate = serializers.BooleanField()


class IntakeErrorBody(serializers.Serializer):
    error = serializers.ChoiceField(
        choices=[
            "unknown_endpoint",
            "invalid_signature",
            "subscription_mismatch",
            "invalid_payload",
            "unsupported_media_type",
            "payload_too_large",
            "method_not_allowed",
            "unavailable",
        ]
    )
    detail = serializers.CharField()
    delivery = serializers.CharField(
        required=False, help_text="With invalid_payload: the id it was stored under (rejected)."
    )


WEBHOOK_BODY = PolymorphicProxySerializer(
    component_name="WebhookBody",
    serializers=[
        PolymorphicProxySerializer(
            component_name="OpenvoltEnvelope",
            serializers=OPENVOLT_ENVELOPES,
            resource_type_field_name="event_id",
        ),
        NectarEvent,
    ],
    resource_type_field_name=None,
)


def _svix_header(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False, description=description
    )


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(IntakeErrorBody, description=description)


intake_schema = extend_schema(
    operation_id="webhook_deliver",
    summary="Deliver a webhook",
    description=DESCRIPTION,
    tags=["intake"],
    request={"application/json": WEBHOOK_BODY},
    parameters=[
        OpenApiParameter(
            "endpoint_id",
            OpenApiTypes.UUID,
            OpenApiParameter.PATH,
            description="The endpoint's id: for Openvolt, the credential.",
        ),
        _svix_header("svix-id", "Nectar: the message id (the same id again is a duplicate)."),
        _svix_header("svix-timestamp", "Nectar: Unix seconds; refused 5 minutes off."),
        _svix_header("svix-signature", "Nectar: `v1,<base64 HMAC-SHA256>`, space-separated."),
        _svix_header("webhook-id", "Standard Webhooks name of svix-id."),
        _svix_header("webhook-timestamp", "Standard Webhooks name of svix-timestamp."),
        _svix_header("webhook-signature", "Standard Webhooks name of svix-signature."),
    ],
    responses={
        202: OpenApiResponse(DeliveryStored, description="New delivery stored with its job."),
        200: OpenApiResponse(
            DeliveryStored, description="Same delivery again (a different body: a conflict)."
        ),
        400: _error(
            "Not JSON, not UTF-8, envelope fields missing or mistyped; stored as rejected."
        ),
        401: _error("Nectar signature missing, wrong, or its timestamp over 5 minutes off."),
        403: _error("Openvolt envelope of another subscription_id."),
        404: _error("Unknown or disabled endpoint."),
        405: _error("Any method but POST."),
        413: _error("Body over WEBHOOK_MAX_BODY_BYTES."),
        415: _error("Not application/json, or not UTF-8."),
        503: OpenApiResponse(
            IntakeErrorBody,
            description="Storage unavailable: retry after Retry-After seconds.",
            examples=[
                OpenApiExample(
                    "unavailable",
                    {"error": "unavailable", "detail": "Storage is unavailable; retry later."},
                    response_only=True,
                    status_codes=["503"],
                )
            ],
        ),
    },
)
