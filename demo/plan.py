"""What is to be seeded: how many of each object, the moment its times are relative to, and the
fixed parts of the demo (its account, its subscription and its endpoints)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from events.models import Source

# The deliveries are spread over the last DELIVERY_SPAN.
DELIVERY_SPAN = timedelta(days=90)
DEMO_ACCOUNT_ID = "64f0c0de0000000000000001"
DEMO_SUBSCRIPTION_ID = "8f1d2c3b-4a5e-4f60-9a7b-0c1d2e3f4a5b"
ENDPOINTS = [
    (Source.OPENVOLT, "Demo: Openvolt production"),
    (Source.OPENVOLT, "Demo: Openvolt staging"),
    (Source.NECTAR, "Demo: Nectar"),
]


@dataclass(frozen=True)
class Plan:
    deliveries: int
    readings: int
    customers: int
    # Every time is relative to this moment, so that batches line up with one another.
    now: datetime

    @property
    def today(self) -> datetime:
        return self.now.replace(hour=0, minute=0, second=0)

    @property
    def meters(self) -> int:
        return max(1, self.customers * 8 // 5)

    @property
    def bills(self) -> int:
        return max(1, self.customers // 6)

    @property
    def connections(self) -> int:
        return max(1, self.customers // 10)


def plan_make(*, deliveries: int, readings: int, customers: int) -> Plan:
    if min(deliveries, readings) < 0 or customers < 1:
        raise ValueError("Counts cannot be negative, and there is at least one customer.")
    return Plan(
        deliveries=deliveries,
        readings=readings,
        customers=customers,
        now=timezone.now().replace(microsecond=0),
    )
