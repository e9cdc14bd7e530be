"""A body sent with `Transfer-Encoding: chunked` (no Content-Length) is read whole, as gunicorn
serves the intake in production (a live test)."""

import http.client
import json
from urllib.parse import urlsplit

import pytest

from events.models import Delivery
from tests.factories import OpenvoltEndpointFactory
from tests.support.servers import gunicorn_serving
from tests.support.webhooks import openvolt_envelope

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("live_database")]


def post_chunked(base: str, path: str, body: bytes, *, chunk: int = 100) -> tuple[int, dict]:
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=20)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for offset in range(0, len(body), chunk):
            piece = body[offset : offset + chunk]
            connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_a_chunked_body_is_stored_whole():
    endpoint = OpenvoltEndpointFactory()
    envelope = openvolt_envelope("customer.created", "chunked-1")
    body = json.dumps(envelope).encode()

    with gunicorn_serving() as base:
        status, answer = post_chunked(base, endpoint.path, body)

    assert (status, answer["duplicate"]) == (202, False)
    delivery = Delivery.objects.get(pk=answer["delivery"])
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.payload == envelope


def test_a_chunked_body_over_the_limit_is_refused():
    endpoint = OpenvoltEndpointFactory()
    body = json.dumps(openvolt_envelope(payload={"padding": "x" * 5000})).encode()

    with gunicorn_serving(WEBHOOK_MAX_BODY_BYTES="2000") as base:
        status, answer = post_chunked(base, endpoint.path, body)

    assert (status, answer["error"]) == (413, "payload_too_large")
    assert not Delivery.objects.exists()
