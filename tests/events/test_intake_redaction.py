"""The `live_api_key` of `api_keys.rotated` is never written anywhere in clear (CONTRACT.md 4)."""

import json
import logging

import pytest

from events.models import Delivery
from events.redaction import redact_text
from tests.support.database import rows_containing
from tests.support.webhooks import body_of, openvolt_envelope, post_json

KEY = "AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD"
# Any run of the key longer than the four characters that may be kept.
KEY_FRAGMENTS = (KEY, "AAAAAAA", "BBBBBBB", "CCCCCCC", "-DDDDDDD")
MASKED = "****DDDD"

ACCOUNT = {
    "id": "65c361949ecb86c35d5ef1c0",
    "name": "Account Name",
    "email": "ops@example.com",
    "live_api_key": KEY,
    "readonly": False,
    "created_at": "2024-02-07T10:55:16.577Z",
    "logo": "https://starkindustries.com/logo.png",
}


def rotated(**overrides) -> dict:
    return openvolt_envelope(
        "api_keys.rotated", delivery_id="rot-1", **{"payload": ACCOUNT, **overrides}
    )


def rotated_without(field: str) -> dict:
    envelope = rotated()
    del envelope[field]
    return envelope


def with_trailing_comma(document: dict) -> bytes:
    """A trailing comma, as in the seed documents: not JSON."""
    return json.dumps(document, indent=2).encode()[:-2] + b",\n}"


BODIES = [
    pytest.param(body_of(rotated()), 202, id="valid-delivery"),
    pytest.param(body_of(rotated(payload=[ACCOUNT])), 202, id="key-inside-an-array-payload"),
    pytest.param(body_of(rotated(payload=json.dumps(ACCOUNT))), 202,
                 id="key-inside-a-string-payload"),
    pytest.param(body_of(rotated_without("delivery_id")), 400, id="rejected-delivery_id-missing"),
    pytest.param(body_of(rotated(event_timestamp="soon")), 400, id="rejected-bad-timestamp"),
    pytest.param(body_of(rotated(payload=ACCOUNT | {"balance": "x"}))
                 .replace(b'"x"', b"NaN"), 400, id="rejected-NaN-in-payload"),
    pytest.param(with_trailing_comma(rotated()), 400, id="broken-json-trailing-comma"),
    pytest.param(body_of(rotated())[:-1], 400, id="broken-json-missing-brace"),
    pytest.param(b'{"event_id": "api_keys.rotated", "payload": {"live_api_key" : "' + KEY.encode(),
                 400, id="broken-json-cut-after-the-key"),
    pytest.param(body_of(rotated()).replace(b"Account Name", b"Caf\xe9"), 400,
                 id="not-utf-8"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status"), BODIES)
def test_live_api_key_is_stored_nowhere_but_its_last_four(
    api_client, openvolt_endpoint, caplog, body, status
):
    assert KEY.encode() in body  # the test would catch a leak

    with caplog.at_level(logging.DEBUG):
        response = post_json(api_client, openvolt_endpoint, body, {"X-Api-Key": KEY})
        # A retry of the same body is a second receipt: it must not leak either.
        post_json(api_client, openvolt_endpoint, body, {"Authorization": f"Bearer {KEY}"})

    assert response.status_code == status, response.content
    for fragment in KEY_FRAGMENTS:
        assert rows_containing(fragment) == []
        assert fragment not in caplog.text
        assert fragment not in response.content.decode()
    assert [table for table, _ in rows_containing(MASKED)] == ["events_delivery"]


def test_stored_payload_keeps_everything_but_the_key(api_client, openvolt_endpoint):
    post_json(api_client, openvolt_endpoint, rotated())

    assert Delivery.objects.get().payload["payload"] == ACCOUNT | {"live_api_key": MASKED}


def test_broken_body_is_kept_as_text_with_the_key_masked(api_client, openvolt_endpoint):
    body = with_trailing_comma(rotated())

    post_json(api_client, openvolt_endpoint, body)

    delivery = Delivery.objects.get()
    assert delivery.unparsed_body == body.decode().replace(KEY, MASKED)


@pytest.mark.parametrize("short_key", ["", "abc", "x" * 11])
def test_short_key_is_not_kept_at_all(api_client, openvolt_endpoint, short_key):
    post_json(api_client, openvolt_endpoint, rotated(payload={"live_api_key": short_key}))

    stored = Delivery.objects.get().payload["payload"]["live_api_key"]
    assert stored in ("", "[redacted]")
    assert short_key == "" or short_key not in stored


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ('{"live_api_key": "' + KEY + '"}', '{"live_api_key": "' + MASKED + '"}'),
        ('{"live_api_key":"' + KEY + '",}', '{"live_api_key":"' + MASKED + '",}'),
        ('{"live_api_key": "' + KEY, '{"live_api_key": "' + MASKED),
        ('{"live_api_key": "' + KEY + "\\", '{"live_api_key": "' + MASKED + "\\"),
        ('{"password": "a \\" quoted ' + KEY + '"', '{"password": "' + MASKED + '"'),
    ],
    ids=["closed", "trailing-comma", "cut-off", "cut-off-after-a-backslash", "escaped-quote"],
)
def test_secret_in_unparsable_text_is_masked(text, redacted):
    assert redact_text(text) == redacted
