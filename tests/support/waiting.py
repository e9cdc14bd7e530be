"""Waiting for what another thread or process does."""

import time
from collections.abc import Callable

import pytest


def wait_for(condition: Callable[[], object], *, timeout: float, what, every=0.05):
    """Poll until `condition()` is truthy and return it; fail after `timeout` seconds, saying
    `what` was awaited (a string, or a callable giving it then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(
                f"Timed out after {timeout} s waiting for {what() if callable(what) else what}."
            )
        time.sleep(every)
