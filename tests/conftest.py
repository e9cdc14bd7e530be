"""Fixtures of the whole suite. Helpers that tests import are in tests/support/, factories of
the rows they need in tests/factories.py."""

import os

import pytest
from django.db import connection, connections
from django.test import override_settings
from rest_framework.test import APIClient

from events.endpoint_cache import endpoints_forget
from tests.factories import NectarEndpointFactory, OpenvoltEndpointFactory, StaffUserFactory


@pytest.fixture(autouse=True, scope="session")
def plain_http_and_password_logins():
    """The suite speaks plain HTTP to Switchboard, as the TLS proxy in front of a deployment
    does, and signs staff in with a password (or force_login) alone. For the whole session:
    the live server reads SECURE_SSL_REDIRECT once, when it starts; and in the environment,
    which the servers and workers the tests start inherit. tests/security/ turns both back on
    where it tests them."""
    plain = {"SECURE_SSL_REDIRECT": "false", "REQUIRE_2FA": "false"}
    before = {name: os.environ.get(name) for name in plain}
    os.environ.update(plain)
    with override_settings(SECURE_SSL_REDIRECT=False, REQUIRE_2FA=False):
        yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def no_endpoints_kept():
    """Each test looks its endpoints up afresh (events/endpoint_cache.py)."""
    endpoints_forget()


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """The suite runs with DEBUG off but without collectstatic's manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def openvolt_budget_for_tests(settings):
    """Calls to the local stand-ins of Openvolt as fast as they answer; the tests of the
    shared budget set their own."""
    settings.OPENVOLT_API_MAX_RPS = 10_000
    settings.OPENVOLT_API_MAX_CONCURRENCY = 8


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def openvolt_endpoint(db):
    return OpenvoltEndpointFactory(description="Openvolt test")


@pytest.fixture
def nectar_endpoint(db):
    """A Nectar endpoint; `test_secret` is its signing secret."""
    return NectarEndpointFactory(description="Nectar test")


@pytest.fixture
def alice(db):
    """A member of staff with a full name, for tests of who did what."""
    return StaffUserFactory(username="alice", first_name="Alice", last_name="Archer")


@pytest.fixture
def bob(db):
    """A member of staff known by username only."""
    return StaffUserFactory(username="bob")


@pytest.fixture
def register_handler(monkeypatch):
    """Register a test handler with events/dispatch.py, for this test only.

    Usage: register_handler("openvolt", "test.event", handler) returns the handler.
    """
    from events import dispatch

    # A copy of the registry, put back when the test ends.
    monkeypatch.setattr(dispatch, "_handlers", dict(dispatch._handlers))

    def register(source, event_type, handler):
        return dispatch.handles(source, event_type)(handler)

    return register


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


@pytest.fixture
def live_server_connections_closed(monkeypatch):
    """The live server's request threads would keep their connections open past the test
    database's teardown; a request the browser left unfinished keeps one even so."""
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)
    yield
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
