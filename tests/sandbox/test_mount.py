"""config/urls.py mounts the sandbox when OPENVOLT_SANDBOX is on, at import."""

import importlib

import pytest
from django.urls import clear_url_caches

import config.urls


def sandbox_mounted() -> bool:
    return any(
        str(pattern.pattern) == "sandbox/openvolt/v1/" for pattern in config.urls.urlpatterns
    )


@pytest.fixture
def reload_urls(settings):
    original = settings.OPENVOLT_SANDBOX

    def reload(sandbox: bool):
        settings.OPENVOLT_SANDBOX = sandbox
        importlib.reload(config.urls)
        clear_url_caches()

    yield reload
    reload(original)


def test_the_sandbox_is_mounted_only_when_the_setting_is_on(reload_urls):
    reload_urls(False)
    assert not sandbox_mounted()

    reload_urls(True)
    assert sandbox_mounted()
