"""Nectar's Svix / Standard Webhooks signatures, checked against the reference signer."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from events.models import Delivery, EndpointSecret
from events.services import endpoint_secret_rotate, secret_generate
from events.sources import nectar
from events.sources.base import InvalidSignature
from tests.support.database import stored_counts
from tests.support.webhooks import body_of, nectar_event, nectar_headers, post_json

BODY = body_of(nectar_event())
TOLERANCE = 5 * 60


def post_with(client, endpoint, headers, body=BODY):
    return post_json(client, endpoint, body, headers)


def assert_refused_401(response, detail_mentions: str = "") -> None:
    assert response.status_code == 401, response.content
    answer = response.json()
    assert answer["error"] == "invalid_signature"
    assert detail_mentions in answer["detail"]


@pytest.fixture
def signed(nectar_endpoint):
    """Headers signing BODY with the endpoint's secret; keyword arguments as nectar_headers."""

    def sign(body=BODY, **options):
        return nectar_headers(nectar_endpoint.test_secret, body, **options)

    return sign


# Through HTTP: what is refused with 401, and stores nothing


def test_signature_made_with_another_secret_is_refused(api_client, nectar_endpoint):
    before = stored_counts()
    headers = nectar_headers(secret_generate(), BODY)

    assert_refused_401(post_with(api_client, nectar_endpoint, headers), "secret")
    assert stored_counts() == before


@pytest.mark.parametrize(
    ("seconds_from_now", "status"),
    [
        (-TOLERANCE - 30, 401),
        (-TOLERANCE + 30, 202),
        (TOLERANCE - 30, 202),
        (TOLERANCE + 30, 401),
    ],
    ids=["over-5-minutes-old", "just-under-5-minutes-old", "just-under-5-minutes-ahead",
         "over-5-minutes-ahead"],
)  # fmt: skip
def test_timestamp_must_be_within_5_minutes(
    api_client, nectar_endpoint, signed, seconds_from_now, status
):
    before = stored_counts()
    headers = signed(timestamp=time.time() + seconds_from_now)

    response = post_with(api_client, nectar_endpoint, headers)

    assert response.status_code == status, response.content
    assert Delivery.objects.count() == before["deliveries"] + (status == 202)


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_each_missing_header_is_refused(api_client, nectar_endpoint, signed, missing):
    before = stored_counts()
    headers = signed()
    del headers[missing]

    assert_refused_401(post_with(api_client, nectar_endpoint, headers), "Missing")
    assert stored_counts() == before


def test_unsigned_request_is_refused(api_client, nectar_endpoint):
    assert_refused_401(post_with(api_client, nectar_endpoint, {}), "Missing")
    assert not Delivery.objects.exists()


def test_headers_split_between_the_two_families_are_refused(api_client, nectar_endpoint, signed):
    svix = signed()
    headers = {
        "svix-id": svix["svix-id"],
        "webhook-timestamp": svix["svix-timestamp"],
        "svix-signature": svix["svix-signature"],
    }

    assert_refused_401(post_with(api_client, nectar_endpoint, headers))


@pytest.mark.parametrize("timestamp", ["yesterday", "1.7e9", "0x6650"])
def test_timestamp_that_is_not_a_number_is_refused(api_client, nectar_endpoint, signed, timestamp):
    headers = {**signed(), "svix-timestamp": timestamp}

    assert_refused_401(post_with(api_client, nectar_endpoint, headers), "number")


def test_signature_replayed_under_another_message_id_is_refused(
    api_client, nectar_endpoint, signed
):
    headers = {**signed(message_id="msg_original"), "svix-id": "msg_replayed"}

    assert_refused_401(post_with(api_client, nectar_endpoint, headers))
    assert not Delivery.objects.exists()


def test_signature_over_another_body_is_refused(api_client, nectar_endpoint, signed):
    headers = signed(body=body_of(nectar_event(status="active")))

    response = post_with(
        api_client, nectar_endpoint, headers, body=body_of(nectar_event(status="revoked"))
    )

    assert_refused_401(response)


def test_signature_replayed_with_a_new_timestamp_is_refused(api_client, nectar_endpoint, signed):
    headers = {**signed(timestamp=time.time() - 60), "svix-timestamp": str(int(time.time()))}

    assert_refused_401(post_with(api_client, nectar_endpoint, headers))


# Through HTTP: what is accepted


@pytest.mark.parametrize("position", [0, 1, 2])
def test_one_right_signature_among_several_is_enough(api_client, nectar_endpoint, signed, position):
    right = signed()["svix-signature"]
    others = [nectar_headers(secret_generate(), BODY)["svix-signature"] for _ in range(2)]
    others.insert(position, right)
    headers = {**signed(), "svix-signature": " ".join(others)}

    assert post_with(api_client, nectar_endpoint, headers).status_code == 202


def test_several_signatures_none_right_are_refused(api_client, nectar_endpoint, signed):
    wrong = [nectar_headers(secret_generate(), BODY)["svix-signature"] for _ in range(3)]
    headers = {**signed(), "svix-signature": " ".join(wrong)}

    assert_refused_401(post_with(api_client, nectar_endpoint, headers))


@pytest.mark.parametrize("version", ["v1a", "v2", "V1", ""])
def test_right_digest_under_another_scheme_is_refused(api_client, nectar_endpoint, signed, version):
    digest = signed()["svix-signature"].removeprefix("v1,")
    headers = {**signed(), "svix-signature": f"{version},{digest}"}

    assert_refused_401(post_with(api_client, nectar_endpoint, headers))


# Secret rotation


def test_old_and_new_secret_both_verify_during_a_rotation(api_client, nectar_endpoint):
    old_secret = nectar_endpoint.test_secret

    new_secret = endpoint_secret_rotate(endpoint=nectar_endpoint)

    assert new_secret != old_secret
    old = post_with(api_client, nectar_endpoint, nectar_headers(old_secret, BODY, message_id="a"))
    new = post_with(api_client, nectar_endpoint, nectar_headers(new_secret, BODY, message_id="b"))
    assert (old.status_code, new.status_code) == (202, 202)
    old_row = EndpointSecret.objects.get(endpoint=nectar_endpoint, expires_at__isnull=False)
    assert old_row.secret == old_secret
    assert old_row.expires_at > timezone.now() + timedelta(hours=23)


def test_old_secret_stops_verifying_once_it_expires(api_client, nectar_endpoint):
    old_secret = nectar_endpoint.test_secret
    new_secret = endpoint_secret_rotate(endpoint=nectar_endpoint)

    EndpointSecret.objects.filter(expires_at__isnull=False).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    old = post_with(api_client, nectar_endpoint, nectar_headers(old_secret, BODY, message_id="a"))
    new = post_with(api_client, nectar_endpoint, nectar_headers(new_secret, BODY, message_id="b"))
    assert_refused_401(old)
    assert new.status_code == 202


def test_endpoint_without_any_active_secret_refuses_everything(api_client, nectar_endpoint):
    EndpointSecret.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post_with(
        api_client, nectar_endpoint, nectar_headers(nectar_endpoint.test_secret, BODY)
    )

    assert_refused_401(response)


# nectar.verify itself, at an exact `now`

NOW = 1_734_129_304
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def reference_headers(*, secret=SECRET, message_id="msg_1", timestamp=NOW, body=BODY):
    return nectar_headers(secret, body, message_id=message_id, timestamp=timestamp)


def test_verify_returns_the_message_id():
    headers = reference_headers(message_id="msg_2pU")

    assert nectar.verify([SECRET], headers, BODY, now=NOW) == "msg_2pU"


def test_our_signature_is_the_reference_signers():
    reference = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(NOW, tz=UTC), BODY.decode())

    assert f"v1,{nectar.sign(SECRET, 'msg_1', NOW, BODY)}" == reference


@pytest.mark.parametrize(
    ("age", "accepted"),
    [(TOLERANCE, True), (TOLERANCE + 1, False), (-TOLERANCE, True), (-TOLERANCE - 1, False)],
    ids=["exactly-5-minutes-old", "5-minutes-1-second-old", "exactly-5-minutes-ahead",
         "5-minutes-1-second-ahead"],
)  # fmt: skip
def test_verify_tolerates_exactly_5_minutes_either_way(age, accepted):
    headers = reference_headers(timestamp=NOW - age)

    if accepted:
        assert nectar.verify([SECRET], headers, BODY, now=NOW) == "msg_1"
    else:
        with pytest.raises(InvalidSignature, match="timestamp"):
            nectar.verify([SECRET], headers, BODY, now=NOW)


def test_verify_tries_every_active_secret():
    other = secret_generate()

    assert nectar.verify([other, SECRET], reference_headers(), BODY, now=NOW) == "msg_1"
    with pytest.raises(InvalidSignature):
        nectar.verify([other], reference_headers(), BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        nectar.verify([], reference_headers(), BODY, now=NOW)


def test_verify_reads_the_webhook_family():
    headers = {
        name.replace("svix-", "webhook-"): value for name, value in reference_headers().items()
    }

    assert nectar.verify([SECRET], headers, BODY, now=NOW) == "msg_1"


@pytest.mark.parametrize("header", ["svix-id", "svix-timestamp", "svix-signature"])
@pytest.mark.parametrize("value", [None, ""], ids=["absent", "empty"])
def test_verify_refuses_a_missing_or_empty_header(header, value):
    headers = reference_headers()
    if value is None:
        del headers[header]
    else:
        headers[header] = value

    with pytest.raises(InvalidSignature, match="Missing"):
        nectar.verify([SECRET], headers, BODY, now=NOW)


def test_verify_refuses_a_body_changed_by_one_byte():
    headers = reference_headers()

    with pytest.raises(InvalidSignature, match="No signature matches"):
        nectar.verify([SECRET], headers, BODY.replace(b"active", b"activE"), now=NOW)


def test_verify_accepts_space_separated_signatures():
    right = reference_headers()["svix-signature"]
    wrong = reference_headers(secret=secret_generate())["svix-signature"]
    headers = {**reference_headers(), "svix-signature": f"{wrong} {right} v2,abc"}

    assert nectar.verify([SECRET], headers, BODY, now=NOW) == "msg_1"


def test_an_unreadable_secret_is_skipped_and_the_others_still_verify(
    api_client, nectar_endpoint, caplog
):
    EndpointSecret.objects.create(endpoint=nectar_endpoint, secret="whsec_not*base64!")
    body = json.dumps(nectar_event()).encode()

    signed = post_json(
        api_client, nectar_endpoint, body, nectar_headers(nectar_endpoint.test_secret, body)
    )
    forged = post_json(
        api_client,
        nectar_endpoint,
        body,
        nectar_headers("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", body, message_id="msg_2"),
    )

    assert signed.status_code == 202, signed.content
    assert forged.status_code == 401
    assert "cannot be read" in caplog.text
    assert "not*base64" not in caplog.text
