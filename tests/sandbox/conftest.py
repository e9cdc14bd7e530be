import pytest
from django.db import connection

from events.sources.openvolt_api import OpenvoltClient

SANDBOX_PATH = "/sandbox/openvolt/v1"


@pytest.fixture
def sandbox_url(live_server, settings):
    """The base URL of the sandbox, served by a live server as our client would call it."""
    settings.ROOT_URLCONF = "tests.sandbox.urls"
    return live_server.url + SANDBOX_PATH


@pytest.fixture
def openvolt(sandbox_url):
    """Our real Openvolt client, pointed at the sandbox, without retries."""
    return OpenvoltClient(base_url=sandbox_url, api_key="k", attempts=1)


@pytest.fixture
def forget_jobs():
    """procrastinate's tables are not Django's to flush: drop this test's jobs afterwards."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
