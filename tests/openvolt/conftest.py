"""Fixtures of the Openvolt suite; its helpers are in tests/support/openvolt.py."""

import pytest
from django.db import connection, connections

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


@pytest.fixture
def live_database(transactional_db, monkeypatch):
    """For tests whose jobs run on connections of their own (threads, workers, subprocesses):
    committed data, and an empty job queue (a flush leaves procrastinate's tables alone, so a
    worker would otherwise meet the jobs of earlier tests). Those connections are closed after
    each job unless persistent: keep them from being persistent, so that the test database
    can be dropped at the end."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_workers"
        )
