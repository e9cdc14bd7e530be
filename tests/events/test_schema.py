"""The intake's OpenAPI description (`/api/schema/`, `/api/docs/`), and schemathesis holding
the live intake to it: no server error, every answer as described."""

import json
import urllib.request

import pytest
import schemathesis
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from events.services import endpoint_create

INTAKE = "/webhooks/{endpoint_id}/"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_schema_describes_the_intake_and_nothing_else(client, db):
    response = client.get("/api/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert list(schema["paths"]) == [INTAKE]
    operation = schema["paths"][INTAKE]["post"]
    assert sorted(operation["responses"]) == sorted(
        ["200", "202", "400", "401", "403", "404", "405", "413", "415", "503"]
    )
    assert operation["responses"]["503"]["headers"]["Retry-After"]["required"] is True
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert {"svix-id", "svix-timestamp", "svix-signature"} <= headers
    components = schema["components"]["schemas"]
    assert components["WebhookBody"]["oneOf"] == [
        {"$ref": "#/components/schemas/OpenvoltEnvelope"},
        {"$ref": "#/components/schemas/NectarEvent"},
    ]
    openvolt = components["OpenvoltEnvelope"]
    assert openvolt["discriminator"]["propertyName"] == "event_id"
    assert set(openvolt["discriminator"]["mapping"]) == {
        "meter_data.received",
        "hosted_consent.approved",
        "hosted_consent.revoked",
        "customer.created",
        "user.created",
        "meter.created",
        "api_keys.rotated",
    }
    payload = components["OpenvoltMeterDataReceived"]["properties"]["payload"]
    assert payload == {"type": "array", "items": {"$ref": "#/components/schemas/MeterDataItem"}}


def test_the_docs_page_is_for_staff_and_served_without_a_cdn(client, admin_client, db):
    anonymous = client.get("/api/docs/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))

    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "redoc" in html.lower() and "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html and "https://" not in html.split("<body", 1)[1]


@pytest.mark.live
def test_the_live_intake_answers_as_described(live_server, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 64 * 1024
    openvolt, _ = endpoint_create(source="openvolt", description="schemathesis")
    nectar, _ = endpoint_create(source="nectar", description="schemathesis")
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json") as response:
        raw = json.load(response)
    schema = schemathesis.openapi.from_dict(raw)
    operation = schema[INTAKE]["POST"]
    answers: dict[int, int] = {}
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    endpoints = st.sampled_from([str(openvolt.pk), str(nectar.pk), None])

    @given(case=cases, endpoint=endpoints)
    @hypothesis_settings(
        max_examples=100,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case, endpoint):
        if endpoint and isinstance(case.path_parameters, dict):
            case.path_parameters["endpoint_id"] = endpoint  # a real endpoint, or a made-up one
        response = case.call_and_validate(base_url=live_server.url, checks=CHECKS)
        answers[response.status_code] = answers.get(response.status_code, 0) + 1

    run()

    assert 500 not in answers and 503 not in answers
    # The real endpoints were reached: something was stored, something refused.
    assert {202, 404} <= set(answers), answers
