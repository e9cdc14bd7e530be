"""Fixtures of the Openvolt suite; its helpers are in tests/support/openvolt.py."""

import pytest

from tests.support.fake_openvolt import FakeOpenvolt
from tests.support.openvolt import stock


@pytest.fixture
def openvolt_api(settings):
    """The fake API, stocked, with the settings pointing Switchboard at it."""
    api = FakeOpenvolt().start()
    settings.OPENVOLT_API_URL = api.url
    settings.OPENVOLT_API_KEY = api.api_key
    settings.OPENVOLT_API_BACKOFF_SECONDS = 0.01
    yield stock(api)
    api.stop()
