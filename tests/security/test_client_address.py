"""The client's address: the connection's unless TRUST_PROXY_HEADERS, then the rightmost
address of X-Forwarded-For that is not a trusted proxy; and the scheme header of the proxy
trusted only then."""

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

CLIENT = "203.0.113.7"


def address(forwarded_for: str | None = None, remote: str | None = "10.0.0.5", **meta) -> str:
    from common.addresses import client_address

    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    request = RequestFactory().post("/webhooks/x/", **meta)
    if remote is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote
    return client_address(request)


@pytest.fixture
def behind_proxy(settings):
    settings.TRUST_PROXY_HEADERS = True
    return settings


def test_without_trusting_proxies_the_header_is_ignored(settings):
    settings.TRUST_PROXY_HEADERS = False

    assert address(CLIENT, remote="10.0.0.5") == "10.0.0.5"
    assert address(None, remote="2001:db8::9") == "2001:db8::9"
    assert address(None, remote=None) is None


def test_trust_proxy_headers_is_off_by_default():
    assert django_settings.TRUST_PROXY_HEADERS is False


@pytest.mark.usefixtures("behind_proxy")
@pytest.mark.parametrize(
    ("forwarded_for", "remote", "client"),
    [
        pytest.param(CLIENT, "10.0.0.5", CLIENT, id="one-proxy"),
        pytest.param(f"{CLIENT}, 10.0.0.9, 192.168.1.2", "127.0.0.1", CLIENT, id="a-chain"),
        pytest.param(f"198.51.100.1, {CLIENT}", "10.0.0.5", CLIENT, id="client-wrote-an-address"),
        pytest.param(f"10.9.9.9, {CLIENT}", "10.0.0.5", CLIENT, id="client-wrote-a-private-one"),
        pytest.param(f"{CLIENT}, 10.0.0.9", "198.51.100.1", "198.51.100.1", id="peer-not-a-proxy"),
        pytest.param("10.1.1.1", "10.0.0.5", "10.1.1.1", id="client-on-the-private-network"),
        pytest.param(None, "10.0.0.5", "10.0.0.5", id="the-proxy-itself"),
        pytest.param(f"{CLIENT}:4711", "10.0.0.5", CLIENT, id="with-a-port"),
        pytest.param("[2001:db8::7]:4711", "10.0.0.5", "2001:db8::7", id="ipv6-with-a-port"),
        pytest.param("2001:db8::7", "fd00::1", "2001:db8::7", id="ipv6-proxy"),
        pytest.param(CLIENT, "::ffff:10.0.0.5", CLIENT, id="ipv4-mapped-proxy"),
        pytest.param(f"unknown, {CLIENT}", "10.0.0.5", CLIENT, id="garbage-left-of-the-client"),
        pytest.param(f"{CLIENT}, unknown", "10.0.0.5", "10.0.0.5", id="garbage-from-the-proxy"),
        pytest.param(f"{CLIENT},,  ", "10.0.0.5", CLIENT, id="empty-items"),
        pytest.param(CLIENT, None, CLIENT, id="over-a-unix-socket"),
        pytest.param(None, None, None, id="nothing-at-all"),
    ],
)
def test_the_client_is_the_rightmost_address_not_a_trusted_proxy(forwarded_for, remote, client):
    assert address(forwarded_for, remote=remote) == client


def test_trusted_proxies_are_configurable(behind_proxy):
    behind_proxy.TRUSTED_PROXIES = ["198.51.100.0/24", "2001:db8:1::1"]

    assert address(CLIENT, remote="198.51.100.3") == CLIENT
    assert address(CLIENT, remote="2001:db8:1::1") == CLIENT
    # No longer trusted: a private address is then the client's.
    assert address(CLIENT, remote="10.0.0.5") == "10.0.0.5"


def test_a_trusted_proxy_that_is_no_address_is_refused(behind_proxy):
    behind_proxy.TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.internal"]

    with pytest.raises(ImproperlyConfigured, match=r"proxy\.internal"):
        address(CLIENT)


def settings_in_a_process(**environment: str) -> list[str]:
    script = (
        "from django.conf import settings; "
        "print('settings:', settings.TRUST_PROXY_HEADERS, settings.SECURE_PROXY_SSL_HEADER)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=django_settings.BASE_DIR,
        env={
            **{k: v for k, v in os.environ.items() if k != "TRUST_PROXY_HEADERS"},
            "DEBUG": "false",
            "SECRET_KEY": "x",
            "ALLOWED_HOSTS": "localhost",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("settings:")]
    assert lines, result.stderr
    return lines[0].split()[1:]


def test_the_scheme_header_is_trusted_only_with_trust_proxy_headers():
    assert settings_in_a_process() == ["False", "None"]
    assert settings_in_a_process(TRUST_PROXY_HEADERS="true") == [
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
    ]
