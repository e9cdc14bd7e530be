"""What a payload names is bounded for indexing, after normalising, so that no valid
envelope can overflow the subjects column (a 500 that every retry would meet again)."""

import pytest

from events.models import Delivery
from events.subjects import MAX_LENGTH, subjects_of
from tests.support.webhooks import openvolt_envelope, post_json

pytestmark = pytest.mark.django_db

# 131 characters, 261 once lower-cased: "İ".lower() is "i" and a combining dot.
GROWS_WHEN_LOWERED = "@" + "İ" * 130


def test_a_subject_longer_than_the_column_once_lowered_is_left_out():
    assert len(GROWS_WHEN_LOWERED) <= MAX_LENGTH < len(GROWS_WHEN_LOWERED.lower())
    assert subjects_of({"email": GROWS_WHEN_LOWERED, "id": "kept"}) == ["kept"]


def test_such_a_payload_is_stored_and_acknowledged(api_client, openvolt_endpoint):
    envelope = openvolt_envelope(
        payload={"id": "6627795d54dc5b0961a08ae5", "email": GROWS_WHEN_LOWERED}
    )

    response = post_json(api_client, openvolt_endpoint, envelope)

    assert response.status_code == 202, response.content
    delivery = Delivery.objects.get()
    assert delivery.subjects == ["6627795d54dc5b0961a08ae5"]
    assert delivery.payload["payload"]["email"] == GROWS_WHEN_LOWERED
