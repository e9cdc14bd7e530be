"""Secrets are recognised by their name however it is spelt, wherever they sit: a payload's
fields, JSON held in a string, a body that is not JSON, a receipt's headers (CONTRACT.md 4)."""

import json

import pytest

from events import redaction
from events.models import Delivery
from events.redaction import redact_document, redact_headers, redact_text
from tests.support.database import rows_containing
from tests.support.webhooks import openvolt_envelope, post_json

pytestmark = pytest.mark.django_db

KEY = "sk_live_0123456789abcdefWXYZ"
MASKED = "****WXYZ"
FRAGMENTS = (KEY, "sk_live_0123", "0123456789abcdef")

SPELLINGS = [
    "live_api_key",
    "liveApiKey",
    "LiveAPIKey",
    "LIVE_API_KEY",
    "live-api-key",
    "Live-Api-Key",
    "access_token",
    "accessToken",
    "client_secret",
    "clientSecret",
    "X-Api-Key",
    "refresh_token",
    "webhookSecret",
]


def assert_nowhere_in_clear(*texts: str) -> None:
    for fragment in FRAGMENTS:
        assert rows_containing(fragment) == []
        assert all(fragment not in text for text in texts)


@pytest.mark.parametrize("name", SPELLINGS)
def test_a_secret_field_is_masked_however_its_name_is_spelt(api_client, openvolt_endpoint, name):
    envelope = openvolt_envelope(
        "api_keys.rotated", payload={"id": "65c361949ecb86c35d5ef1c0", "nested": [{name: KEY}]}
    )

    response = post_json(api_client, openvolt_endpoint, envelope)

    assert response.status_code == 202, response.content
    assert_nowhere_in_clear(response.content.decode())
    assert Delivery.objects.get().payload["payload"]["nested"] == [{name: MASKED}]


@pytest.mark.parametrize(
    "held",
    [
        '{"live\\u005fapi_key": "' + KEY + '"}',
        '{"account": {"liveApiKey": "' + KEY + '"}}',
        '[{"client_secret": "' + KEY + '"}]',
        # A string holding a string holding the document.
        json.dumps(json.dumps({"access_token": KEY})),
    ],
    ids=["escaped-underscore", "camel-case-nested", "array", "twice-held"],
)
def test_json_held_in_a_string_payload_is_read_and_redacted(api_client, openvolt_endpoint, held):
    envelope = openvolt_envelope("api_keys.rotated", payload=held)

    response = post_json(api_client, openvolt_endpoint, envelope)

    assert response.status_code == 202, response.content
    assert_nowhere_in_clear()
    assert MASKED in json.dumps(Delivery.objects.get().payload)


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_id": "api_keys.rotated", "payload": {"live\\u005fapi_key": "' + KEY.encode(),
        b'{"event_id": "api_keys.rotated", "payload": {"LIVE_API_KEY": "' + KEY.encode() + b'",}',
        b'{"event_id": "api_keys.rotated", "payload": "{\\"live_api_key\\": \\"'
        + KEY.encode()
        + b'\\"}",}',
        b'{"event_id": "api_keys.rotated", "payload": "{\\"live\\\\u005fapi_key\\": \\"'
        + KEY.encode(),
        b'{"event_id": "api_keys.rotated", "payload": {"password": 123456789012345, }',
    ],
    ids=["escaped-name-cut-off", "capitals", "held-in-a-string", "held-and-escaped", "number"],
)
def test_a_body_that_is_not_json_keeps_no_secret(api_client, openvolt_endpoint, body):
    response = post_json(api_client, openvolt_endpoint, body)

    assert response.status_code == 400, response.content
    unparsed = Delivery.objects.get().unparsed_body
    assert_nowhere_in_clear(unparsed)
    assert "123456789012345" not in unparsed


@pytest.mark.parametrize(
    "name",
    [
        "api-key",
        "x-auth-token",
        "x-webhook-secret",
        "X-Client-Secret",
        "Access-Token",
        "Set-Cookie",
    ],
)
def test_credential_headers_are_not_kept_in_receipts(api_client, openvolt_endpoint, name):
    response = post_json(api_client, openvolt_endpoint, openvolt_envelope(), {name: KEY})

    assert response.status_code == 202, response.content
    assert_nowhere_in_clear()
    headers = Delivery.objects.get().receipts.get().headers
    assert headers[name.lower()] == "[redacted]"


def test_a_consents_token_and_fields_merely_like_secrets_are_kept(api_client, openvolt_endpoint):
    payload = {
        "token": "consent-token-value",
        "hosted_consent_link": "https://consent.openvolt.com/abc",
        "api_key_id": "65c361949ecb86c35d5ef1c0",
        "secretary": "Ann",
        "passwordless": True,
    }

    post_json(api_client, openvolt_endpoint, openvolt_envelope("customer.created", payload=payload))

    assert Delivery.objects.get().payload["payload"] == payload


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("liveApiKey", "liveapikey"),
        ("LiveAPIKey", "liveapikey"),
        ("LIVE_API_KEY", "liveapikey"),
        ("live-api-key", "liveapikey"),
        ("X-Auth-Token", "authtoken"),
        ("XApiKey", "apikey"),
        ("x", "x"),
        ("token", "token"),
    ],
)
def test_names_are_compared_by_their_words(name, normalised):
    assert redaction.name_normalised(name) == normalised


def test_a_string_holding_json_without_secrets_is_left_as_it_was():
    held = '{"a":1,  "b": [true, "\\u00e9"]}'

    assert redact_document({"payload": held}) == {"payload": held}


def test_a_string_holding_json_with_a_secret_is_written_again_redacted():
    held = json.dumps({"name": "Café", "clientSecret": KEY})

    redacted = redact_document({"payload": held})["payload"]

    assert json.loads(redacted) == {"name": "Café", "clientSecret": MASKED}


def test_text_keeps_its_bytes_where_there_is_no_secret():
    text = '{"a": "x\\u00e9\\/y", "b": "{\\"c\\": 1}", "d": [1, 2], "e": "cut'

    assert redact_text(text) == text


def test_headers_share_the_list_of_names():
    headers = {"Authorization": "Bearer x", "API-KEY": "x", "X-Live-Api-Key": "x", "Accept": "*/*"}

    assert redact_headers(headers) == {
        "Authorization": "[redacted]",
        "API-KEY": "[redacted]",
        "X-Live-Api-Key": "[redacted]",
        "Accept": "*/*",
    }
