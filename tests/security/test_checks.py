"""`manage.py check` (run by `migrate`, the release step, and by the worker at its start)
refuses an OPENVOLT_API_KEY that cannot be sent as a header, without quoting it."""

import pytest
from django.core.checks import ERROR, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

KEY = "ovk_live_4f9a8b7c6d5e4f3a2b1c"


def key_errors() -> list:
    return [message for message in run_checks() if "OPENVOLT_API_KEY" in message.msg]


@pytest.mark.parametrize(
    "key",
    [
        KEY[:10] + " " + KEY[10:],
        KEY[:10] + "\n" + KEY[10:],
        KEY[:10] + "\t" + KEY[10:],
        KEY[:10] + "\u00a0" + KEY[10:],
        KEY[:10] + "é" + KEY[10:],
    ],
    ids=["space", "line-break", "tab", "no-break-space", "not-ascii"],
)
def test_a_key_that_cannot_be_a_header_is_refused(settings, key):
    settings.OPENVOLT_API_KEY = key

    with pytest.raises(SystemCheckError) as refused:
        call_command("check")

    assert "OPENVOLT_API_KEY" in str(refused.value)
    for fragment in (KEY[:10], KEY[10:]):
        assert fragment not in str(refused.value)
    assert [(error.id, error.level) for error in key_errors()] == [("events.E001", ERROR)]


@pytest.mark.parametrize("key", [KEY, f"  {KEY}\n", ""], ids=["plain", "padded", "unset"])
def test_a_key_that_can_be_sent_or_none_passes(settings, key):
    settings.OPENVOLT_API_KEY = key

    assert key_errors() == []
