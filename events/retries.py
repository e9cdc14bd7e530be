"""When a failed delivery or item is tried again: DELIVERY_RETRY_DELAYS, with jitter."""

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def retry_delay(seconds: int) -> timedelta:
    """The configured delay with ±10% jitter, so that a burst of failures does not return
    as a burst of retries."""
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def retry_at(*, failures: int) -> datetime | None:
    """When to try again after this many failures in a row; None once the delays are used up
    (the work is then dead, for a person to look at)."""
    delays = settings.DELIVERY_RETRY_DELAYS
    if failures > len(delays):
        return None
    return timezone.now() + retry_delay(delays[failures - 1])
