"""The intake fuzzed (CONTRACT.md section 4): whatever an authenticated sender posts, it never
hears 5xx, and its request ends as a stored delivery (pending or rejected) with a receipt, or as
a 413 or 415 that stores nothing; whatever reaches a Nectar endpoint without a valid signature
is refused 401 and stores nothing at all.

Bodies are validly framed envelopes whose fields take odd values (strings whose lower() grows,
very long strings, e-mail-like strings, huge numbers, NaN, deep nesting, wrong types), any JSON,
or raw bytes; extra headers are arbitrary.
"""

import base64
import hashlib
import hmac
import json
import time
from collections import Counter

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from events.models import Delivery
from events.redaction import SECRET_NAMES
from events.services import secret_generate
from events.subjects import SUBJECT_KEYS
from tests.support.database import stored_counts
from tests.support.webhooks import as_django_headers, nectar_event, openvolt_envelope

# Small enough that some bodies are over it; the contract's 413 is met without 5 MB bodies.
MAX_BODY = 20_000
EXAMPLES = 150
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    # One failure, shrunk, is enough to act on; shrinking several takes minutes.
    report_multiple_bugs=False,
)


def nested(depth: int):
    document = "bottom"
    for _ in range(depth):
        document = [document]
    return document


ODD_STRINGS = [
    "",
    " ",
    "İ" * 300,  # 300 characters, 600 once lower-cased
    "@" + "İ" * 130,  # fits the subjects column, overflows it once lower-cased
    "Ünïcødé@ExAmple.ORG",
    "x" * 256,
    "y" * (MAX_BODY + 1),
    "nul \x00 inside",
    "half \ud800 a pair",
    '"live_api_key": "sk_live_abcdefghijkl',
    "2024-04-28T11:44:01.010Z",
    "9999-12-31T23:59:59-14:00",
]
strings = st.one_of(
    st.text(max_size=30),
    st.emails(),
    st.sampled_from(ODD_STRINGS),
    st.text(alphabet="İıẞß𝔘Σς\u0307@.", max_size=300),
)
numbers = st.one_of(
    st.integers(min_value=-(10**80), max_value=10**80),
    st.floats(),  # NaN and infinities too, which JSON has no words for
)
odd_values = st.sampled_from([2**63, -(2**63) - 1, 10**400, nested(99), nested(100), nested(101)])
scalars = st.one_of(st.none(), st.booleans(), numbers, strings, odd_values)
keys = st.one_of(st.sampled_from(sorted(SUBJECT_KEYS | SECRET_NAMES)), st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)


@st.composite
def altered(draw, valid: st.SearchStrategy) -> dict:
    """A valid document with odd fields added, and up to two of its fields left out or given
    odd values."""
    document = {**draw(st.dictionaries(keys, json_values, max_size=3)), **draw(valid)}
    for field in draw(st.sets(st.sampled_from(sorted(document)), max_size=2)):
        if draw(st.booleans()):
            del document[field]
        else:
            document[field] = draw(json_values)
    return document


def encoded(documents: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly the documents as JSON text; else any JSON, or bytes that may be anything."""

    def as_json(values: st.SearchStrategy) -> st.SearchStrategy:
        return st.builds(
            lambda value, ascii_only: json.dumps(value, ensure_ascii=ascii_only).encode(
                "utf-8",
                "surrogatepass",  # a lone surrogate becomes bytes that are not UTF-8
            ),
            values,
            st.booleans(),
        )

    return st.one_of(
        as_json(documents), as_json(documents), as_json(json_values), st.binary(max_size=300)
    )


payloads = st.one_of(
    st.dictionaries(keys, json_values, max_size=4), st.lists(json_values, max_size=3), strings
)
delivery_ids = st.one_of(st.uuids().map(str), st.text(min_size=1, max_size=255).filter(str.strip))
openvolt_bodies = encoded(
    altered(
        st.builds(
            openvolt_envelope,
            event_type=st.sampled_from(["customer.created", "api_keys.rotated", "account.merged"]),
            delivery_id=delivery_ids,
            payload=payloads,
        )
    )
)
nectar_bodies = encoded(
    altered(
        st.builds(
            nectar_event,
            event_type=st.sampled_from(["connection.created.v2", "document.created.v2", "x.y"]),
            accountNumber=strings,
            email=strings,
        )
    )
)

content_types = st.sampled_from(
    ["application/json"] * 12
    + ["application/json; charset=UTF-8", "application/cloudevents+json"]
    + ["text/plain", "application/json; charset=latin-1", "application/x-www-form-urlencoded"]
)
# What a server passes on: names of letters, digits and dashes, values of single bytes. Names
# the intake reads itself are left to the tests of them.
header_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,15}\Z").filter(
    lambda name: not name.lower().startswith(("svix-", "webhook-", "content-", "transfer-"))
)
extra_headers = st.dictionaries(
    header_names, st.text(st.characters(max_codepoint=255), max_size=30), max_size=4
)
message_ids = st.one_of(
    st.uuids().map(lambda uuid: f"msg_{uuid.hex}"),
    st.uuids().map(lambda uuid: f"msg_{uuid.hex}"),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    st.sampled_from(["m" * 256, "msg\x00nul", "msg_İ", " spaced "]),
)


def svix_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """As Standard Webhooks specifies, written apart from Switchboard's own signer: it signs
    bytes that are not UTF-8 too, which the reference signer cannot."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def post(client, endpoint, body: bytes, content_type: str, headers: dict):
    return client.post(
        endpoint.path, data=body, content_type=content_type, **as_django_headers(headers)
    )


def refused_before_reading(body: bytes, content_type: str) -> int | None:
    """413 or 415 when the contract refuses the request before its body is read."""
    if len(body) > MAX_BODY:
        return 413
    media_type = content_type.partition(";")[0]
    if not media_type.endswith("json") or "latin-1" in content_type:
        return 415
    return None


def assert_answered_per_contract(send, body: bytes, content_type: str, *, again: bool) -> int:
    """Send once (and again, when `again`) in a savepoint rolled back afterwards, so that each
    example starts from the same tables; returns the first answer's status."""
    with transaction.atomic():
        before = stored_counts()
        first = send()
        refused = refused_before_reading(body, content_type)
        if refused:
            assert first.status_code == refused, first.content
            assert stored_counts() == before
        else:
            assert first.status_code in (202, 400), first.content
            delivery = assert_stored(first, before, new=True)
            if again:
                retry = send()
                assert retry.status_code == (200 if first.status_code == 202 else 400)
                assert assert_stored(retry, before, new=False) == delivery
        transaction.set_rollback(True)
    return first.status_code


def assert_stored(response, before: dict, *, new: bool) -> Delivery:
    answer = response.json()
    delivery = Delivery.objects.get(pk=int(answer["delivery"]))
    if response.status_code == 400:
        assert answer["error"] == "invalid_payload" and answer["detail"]
        assert delivery.status == Delivery.Status.REJECTED
    else:
        assert delivery.status == Delivery.Status.PENDING
    accepted = int(response.status_code == 202)
    arrivals = 1 if new else 2
    assert delivery.receipt_count == arrivals
    assert stored_counts() == {
        "deliveries": before["deliveries"] + 1,
        "receipts": before["receipts"] + arrivals,
        "jobs": before["jobs"] + (accepted if new else int(delivery.status == "pending")),
    }
    return delivery


@pytest.fixture
def small_bodies(settings):
    settings.WEBHOOK_MAX_BODY_BYTES = MAX_BODY


def test_openvolt_fuzzed_deliveries_are_stored_or_refused_never_5xx(
    api_client, openvolt_endpoint, small_bodies
):
    answers = Counter()

    @given(
        body=openvolt_bodies, content_type=content_types, headers=extra_headers, again=st.booleans()
    )
    @FUZZ_SETTINGS
    def run(body, content_type, headers, again):
        def send():
            return post(api_client, openvolt_endpoint, body, content_type, headers)

        answers[assert_answered_per_contract(send, body, content_type, again=again)] += 1

    run()

    assert {202, 400, 415} <= set(answers), answers


def test_signed_nectar_fuzzed_deliveries_are_stored_or_refused_never_5xx(
    api_client, nectar_endpoint, small_bodies
):
    answers = Counter()

    @given(
        body=nectar_bodies,
        content_type=content_types,
        headers=extra_headers,
        message_id=message_ids,
        prefix=st.sampled_from(["svix", "webhook"]),
        skew=st.integers(min_value=-240, max_value=240),
        other_signatures=st.lists(st.sampled_from(["v1,bm9wZQ==", "v2,abc", "v1a,x"]), max_size=2),
        again=st.booleans(),
    )
    @FUZZ_SETTINGS
    def run(body, content_type, headers, message_id, prefix, skew, other_signatures, again):
        timestamp = int(time.time()) + skew
        signature = svix_signature(nectar_endpoint.test_secret, message_id, timestamp, body)
        signed = {
            f"{prefix}-id": message_id,
            f"{prefix}-timestamp": str(timestamp),
            f"{prefix}-signature": " ".join([*other_signatures, signature]),
        }

        def send():
            return post(api_client, nectar_endpoint, body, content_type, {**headers, **signed})

        answers[assert_answered_per_contract(send, body, content_type, again=again)] += 1

    run()

    assert {202, 400, 415} <= set(answers), answers


UNSIGNED_WAYS = [
    "another-secret",
    "too-old",
    "too-new",
    "header-missing",
    "signature-garbled",
    "other-body",
    "other-message-id",
    "timestamp-not-a-number",
    "families-mixed",
]


@st.composite
def unsigned(draw, secret: str, body: bytes):
    """Headers that do not authenticate `body`, in one of UNSIGNED_WAYS."""
    way = draw(st.sampled_from(UNSIGNED_WAYS))
    message_id = draw(message_ids)
    timestamp = int(time.time())
    signed_body = body
    if way == "another-secret":
        secret = secret_generate()
    elif way in ("too-old", "too-new"):
        timestamp += (1 if way == "too-new" else -1) * draw(st.integers(330, 10**9))
    elif way == "other-body":
        signed_body = draw(st.binary(max_size=50).filter(lambda other: other != body))
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": svix_signature(secret, message_id, timestamp, signed_body),
    }
    if way == "header-missing":
        for name in draw(st.sets(st.sampled_from(sorted(headers)), min_size=1)):
            del headers[name]
    elif way == "signature-garbled":
        headers["svix-signature"] = draw(st.text(max_size=60))
    elif way == "other-message-id":
        headers["svix-id"] = draw(message_ids.filter(lambda other: other != message_id))
    elif way == "timestamp-not-a-number":
        headers["svix-timestamp"] = draw(st.sampled_from(["yesterday", "1.7e9", "0x6650", "now"]))
    elif way == "families-mixed":
        headers["webhook-timestamp"] = headers.pop("svix-timestamp")
    return headers


def test_nectar_requests_without_a_valid_signature_store_nothing(
    api_client, nectar_endpoint, small_bodies
):
    answers = Counter()
    requests = st.tuples(nectar_bodies, content_types, extra_headers).flatmap(
        lambda drawn: st.tuples(st.just(drawn), unsigned(nectar_endpoint.test_secret, drawn[0]))
    )

    @given(request=requests)
    @FUZZ_SETTINGS
    def run(request):
        (body, content_type, headers), signature = request
        before = stored_counts()
        response = post(api_client, nectar_endpoint, body, content_type, {**headers, **signature})
        answers[response.status_code] += 1
        assert stored_counts() == before
        expected = refused_before_reading(body, content_type) or 401
        assert response.status_code == expected, response.content
        if expected == 401:
            assert response.json()["error"] == "invalid_signature"

    run()

    assert 401 in answers, answers
