"""Two deliveries touching one meter, processed at the same time by two threads, each with its
own database connection: the meter's advisory lock (meters.services.lock_objects) makes the
second wait for the first, and both end processed with the right readings."""

import threading
import time

import pytest
from django.db import connection, connections

from consents.models import HostedConsent
from events.models import Delivery
from events.processing import delivery_process
from meters.models import IntervalReading
from tests.openvolt.conftest import (
    CONSENT_ID,
    METER_A,
    METER_B,
    half_hours,
    load_event,
    receive,
    stored,
    wait_for,
)

pytestmark = [pytest.mark.usefixtures("live_database"), pytest.mark.live]

TIMEOUT = 20


class JobThread(threading.Thread):
    """delivery_process in a thread of its own, as a worker would run it."""

    def __init__(self, delivery: Delivery):
        super().__init__(name=f"delivery-{delivery.pk}", daemon=True)
        self.delivery_id = delivery.pk
        self.error: BaseException | None = None

    def run(self):
        try:
            delivery_process(delivery_id=self.delivery_id)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connections.close_all()

    def finish(self):
        self.join(TIMEOUT)
        assert not self.is_alive(), f"{self.name} still running after {TIMEOUT} s"
        assert self.error is None, self.error


def waiting_for_lock(key: str) -> int:
    """How many sessions wait for the advisory lock lock_objects takes on `key`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)",
            [key],
        )
        return cursor.fetchone()[0]


def meter_data(delivery_id, *items):
    payload = [
        {"meter_id": meter_id, "start_interval": start, "end_interval": end}
        for meter_id, start, end in items
    ]
    return load_event("meter_data.received", delivery_id=delivery_id, payload=payload)


def run_overlapping(
    openvolt_api, first: Delivery, second: Delivery, wait_key: str, hang="/interval-data"
) -> float:
    """Process `first` until its first request to `hang`, which the API holds; then start
    `second` and wait until it waits for `wait_key`. Returns when the API let `first` go."""
    openvolt_api.hang(hang)
    one, two = JobThread(first), JobThread(second)
    one.start()
    try:
        assert openvolt_api.hanging.wait(TIMEOUT), "the first job never reached the API"
        two.start()
        wait_for(lambda: waiting_for_lock(wait_key), timeout=TIMEOUT, what=f"a wait on {wait_key}")
        # The second job is blocked: it has not asked the API for anything yet.
        assert len(openvolt_api.requests_to(hang)) == 1
    finally:
        released_at = time.monotonic()
        openvolt_api.release()
        one.finish()
        if two.ident:  # started
            two.finish()
    return released_at


def test_second_delivery_of_a_meter_waits_for_the_first(
    api_client, openvolt_endpoint, openvolt_api
):
    first = receive(
        api_client,
        openvolt_endpoint,
        meter_data("first", (METER_A, "2024-04-27T00:00:00Z", "2024-04-27T12:00:00Z")),
    )
    second = receive(
        api_client,
        openvolt_endpoint,
        meter_data("second", (METER_A, "2024-04-27T06:00:00Z", "2024-04-27T18:00:00Z")),
    )

    released_at = run_overlapping(openvolt_api, first, second, f"meter:{METER_A}")

    for delivery in (first, second):
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PROCESSED, delivery.error
        assert delivery.attempts.get().result == "processed"
    readings = stored(METER_A)
    assert list(readings) == half_hours("2024-04-27T00:00:00Z", "2024-04-27T18:00:00Z")
    assert all(
        value == openvolt_api.consumption(METER_A, start) for start, value in readings.items()
    )
    assert IntervalReading.objects.count() == 36
    # The second job asked only once the first was let go, and found the meter mirrored.
    assert openvolt_api.requests_to("/interval-data")[1].at >= released_at
    assert len(openvolt_api.requests_to(f"/meters/{METER_A}")) == 1


def test_deliveries_naming_two_meters_in_opposite_orders_do_not_deadlock(
    api_client, openvolt_endpoint, openvolt_api
):
    a = (METER_A, "2024-04-27T00:00:00Z", "2024-04-27T02:00:00Z")
    b = (METER_B, "2024-04-27T00:00:00Z", "2024-04-27T02:00:00Z")
    first = receive(api_client, openvolt_endpoint, meter_data("a-then-b", a, b))
    second = receive(api_client, openvolt_endpoint, meter_data("b-then-a", b, a))

    # The first holds meter A while the API keeps it waiting; the second must wait for A too,
    # and must not sit on meter B meanwhile, or the first could never finish.
    run_overlapping(openvolt_api, first, second, f"meter:{METER_A}")

    for delivery in (first, second):
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert len(stored(METER_A)) == len(stored(METER_B)) == 4


def test_approvals_naming_two_consents_in_opposite_orders_do_not_deadlock(
    api_client, openvolt_endpoint, openvolt_api, settings
):
    settings.OPENVOLT_AUTO_CREATE_METERS = False
    other = "6630f047feb1f65bad24870b"  # a second consent of the same customer
    openvolt_api.add_consent({**openvolt_api.consents[CONSENT_ID], "id": other})
    approvals = [[CONSENT_ID, other], [other, CONSENT_ID]]
    first, second = (
        receive(
            api_client,
            openvolt_endpoint,
            load_event(
                "hosted_consent.approved",
                delivery_id="-".join(ids),
                payload=[{"hosted_consent_id": consent_id} for consent_id in ids],
            ),
        )
        for ids in approvals
    )

    run_overlapping(
        openvolt_api, first, second, f"consent:{CONSENT_ID}", hang=f"/hosted-consents/{CONSENT_ID}"
    )

    for delivery in (first, second):
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PROCESSED, delivery.error
    assert HostedConsent.objects.filter(valid=True).count() == 2
