"""What `make run` prints about the sandbox and send_test_event."""

from io import StringIO

import pytest
from django.core.management import call_command

from sandbox.management.commands import dev_welcome


@pytest.fixture
def welcome(settings, monkeypatch, tmp_path, db):
    settings.DEBUG = True
    # Never overwrite the developer's own admin password file.
    monkeypatch.setattr(dev_welcome, "PASSWORD_FILE", tmp_path / "admin-password")

    def run(port=8000):
        out = StringIO()
        call_command("dev_welcome", "--port", str(port), stdout=out)
        return out.getvalue()

    return run


def test_it_names_the_sandbox_when_the_api_is_the_sandbox(welcome, settings):
    settings.OPENVOLT_SANDBOX = True
    settings.OPENVOLT_API_URL = "http://127.0.0.1:8001/sandbox/openvolt/v1"

    text = welcome(port=8001)

    assert "Openvolt's API: the sandbox, http://127.0.0.1:8001/sandbox/openvolt/v1/" in text
    assert "send_test_event meter_data.received" in text
    assert "--url http://127.0.0.1:8001" in text
    assert "hosted_consent.revoked" in text


def test_it_warns_when_the_api_points_at_a_sandbox_that_is_off(welcome, settings):
    settings.OPENVOLT_SANDBOX = False
    settings.OPENVOLT_API_URL = "http://127.0.0.1:8000/sandbox/openvolt/v1"

    assert "OPENVOLT_SANDBOX is off" in welcome()


def test_it_names_openvolt_and_a_missing_key(welcome, settings):
    settings.OPENVOLT_API_URL = "https://api.openvolt.com/v1"
    settings.OPENVOLT_API_KEY = ""

    text = welcome()

    assert "Openvolt's API: https://api.openvolt.com/v1" in text
    assert "OPENVOLT_API_KEY is not set" in text
    assert "--url" not in text
