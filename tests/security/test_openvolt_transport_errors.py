"""A call to Openvolt that fails before any answer leaves the API key nowhere: not in the
delivery's or the item's error and traceback, not in a log line (CONTRACT.md 4, section 6)."""

import logging

import httpx
import pytest

from events.models import Delivery
from tests.support.database import rows_containing
from tests.support.fake_openvolt import FakeOpenvolt
from tests.support.openvolt import load_event, process, receive, stock

pytestmark = pytest.mark.django_db

KEY = "ovk_live_4f9a8b7c6d5e4f3a2b1c"


@pytest.fixture
def openvolt_api(settings):
    api = FakeOpenvolt().start()
    settings.OPENVOLT_API_URL = api.url
    settings.OPENVOLT_API_BACKOFF_SECONDS = 0.0
    yield stock(api)
    api.stop()


def assert_key_nowhere(caplog) -> None:
    for fragment in (KEY, KEY[:12], KEY[4:20]):
        assert rows_containing(fragment) == []
        assert fragment not in caplog.text


def test_a_key_that_cannot_be_sent_is_not_quoted(
    api_client, openvolt_endpoint, openvolt_api, settings, caplog
):
    # A line break pasted inside the key: httpx refuses the header and quotes its value.
    settings.OPENVOLT_API_KEY = KEY[:12] + "\n" + KEY[12:]

    with caplog.at_level(logging.DEBUG):
        delivery = process(receive(api_client, openvolt_endpoint, load_event("meter.created")))

    assert delivery.status == Delivery.Status.FAILED
    assert "OPENVOLT_API_KEY" in delivery.error
    assert_key_nowhere(caplog)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.DecodingError],
)
def test_a_transport_error_quoting_the_request_is_not_copied(
    api_client, openvolt_endpoint, openvolt_api, settings, monkeypatch, caplog, failure
):
    settings.OPENVOLT_API_KEY = KEY

    def request(method, url, *, headers, **kwargs):
        # As a proxy or a debugging transport may word it: the request with its headers.
        raise failure(f"{method} {url} failed; headers: {headers!r}")

    monkeypatch.setattr(httpx, "request", request)

    with caplog.at_level(logging.DEBUG):
        delivery = process(receive(api_client, openvolt_endpoint, load_event("meter.created")))

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error.startswith("OpenvoltError: GET /meters/")
    assert failure.__name__ in delivery.error
    assert_key_nowhere(caplog)
