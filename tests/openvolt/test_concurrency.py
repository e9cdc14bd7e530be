"""Items touching one meter, run at the same time by threads with database connections of
their own: each fetches from Openvolt holding no lock, then stores under the meter's advisory
lock (common/locks.py), one after the other, and every delivery ends processed with the right
readings."""

import threading
from contextlib import contextmanager

import pytest
from django.db import connection, connections

from consents.models import HostedConsent
from events.items import item_process
from events.models import Delivery, DeliveryItem
from events.processing import delivery_process
from meters.models import Customer, IntervalReading, Meter
from tests.support.openvolt import (
    CONSENT_ID,
    METER_A,
    METER_B,
    half_hours,
    load_event,
    receive,
    stored,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.usefixtures("live_database"), pytest.mark.live]

TIMEOUT = 20


class ItemThread(threading.Thread):
    """item_process in a thread of its own, as a worker would run an item's job."""

    def __init__(self, item_id: int):
        super().__init__(name=f"item-{item_id}", daemon=True)
        self.item_id = item_id
        self.error: BaseException | None = None

    def run(self):
        try:
            item_process(item_id=self.item_id)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connections.close_all()

    def finish(self):
        self.join(TIMEOUT)
        assert not self.is_alive(), f"{self.name} still running after {TIMEOUT} s"
        assert self.error is None, self.error


def waiting_for_lock(key: str) -> int:
    """How many sessions wait for the advisory lock advisory_locks_take takes on `key`."""
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


@contextmanager
def lock_held(key: str):
    """Hold the advisory lock an item takes on `key`, on a connection of its own, as a store
    of that object in progress would."""
    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
            yield
            cursor.execute("COMMIT")
    finally:
        holder.close()


def items_of(*deliveries: Delivery) -> list[int]:
    for delivery in deliveries:
        delivery_process(delivery_id=delivery.pk)
    return list(
        DeliveryItem.objects.filter(delivery__in=deliveries)
        .order_by("delivery", "position")
        .values_list("pk", flat=True)
    )


def items_run_at_once(*deliveries: Delivery) -> None:
    """Every item of the deliveries, each in a thread of its own, all at once."""
    threads = [ItemThread(item_id) for item_id in items_of(*deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.finish()


def assert_processed(*deliveries: Delivery) -> None:
    for delivery in deliveries:
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PROCESSED, delivery.error


def test_items_of_one_meter_fetch_at_once_and_store_one_after_the_other(
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
    Meter.objects.create(external_id=METER_A, meter_number="2000012345678")
    threads = [ItemThread(item_id) for item_id in items_of(first, second)]

    with lock_held(f"meter:{METER_A}"):
        for thread in threads:
            thread.start()
        # Both fetch while the meter's lock is taken: no call waits on a lock, nor holds one.
        wait_for(
            lambda: waiting_for_lock(f"meter:{METER_A}") == 2,
            timeout=TIMEOUT,
            what="both items to wait for the meter's lock, their calls made",
        )
        assert len(openvolt_api.requests_to("/interval-data")) == 2
        assert not IntervalReading.objects.exists()
    for thread in threads:
        thread.finish()

    assert_processed(first, second)
    readings = stored(METER_A)
    assert list(readings) == half_hours("2024-04-27T00:00:00Z", "2024-04-27T18:00:00Z")
    assert all(
        value == openvolt_api.consumption(METER_A, start) for start, value in readings.items()
    )


def test_items_of_many_meters_in_any_order_never_wait_on_each_other(
    api_client, openvolt_endpoint, openvolt_api
):
    a = (METER_A, "2024-04-27T00:00:00Z", "2024-04-27T02:00:00Z")
    b = (METER_B, "2024-04-27T00:00:00Z", "2024-04-27T02:00:00Z")
    first = receive(api_client, openvolt_endpoint, meter_data("a-then-b", a, b))
    second = receive(api_client, openvolt_endpoint, meter_data("b-then-a", b, a))
    items_run_at_once(first, second)

    assert_processed(first, second)
    assert len(stored(METER_A)) == len(stored(METER_B)) == 4


def test_consents_approved_in_opposite_orders_end_approved(
    api_client, openvolt_endpoint, openvolt_api, settings
):
    settings.OPENVOLT_AUTO_CREATE_METERS = False
    other = "6630f047feb1f65bad24870b"  # a second consent of the same customer
    openvolt_api.add_consent({**openvolt_api.consents[CONSENT_ID], "id": other})
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
        for ids in ([CONSENT_ID, other], [other, CONSENT_ID])
    )
    items_run_at_once(first, second)

    assert_processed(first, second)
    assert HostedConsent.objects.filter(valid=True).count() == 2


class DeliveryThread(ItemThread):
    """delivery_process in a thread of its own, as a worker would run a delivery's job."""

    def run(self):
        try:
            delivery_process(delivery_id=self.item_id)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connections.close_all()


def waiting_for_a_row() -> int:
    """How many sessions of the test database wait for a row another transaction locked."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')"
        )
        return cursor.fetchone()[0]


def test_deliveries_of_one_customer_take_turns_on_its_row_and_the_newest_news_wins(
    api_client, openvolt_endpoint
):
    customer_id = "6627795d54dc5b0961a08ae5"
    older, newer = (
        receive(
            api_client,
            openvolt_endpoint,
            load_event(
                "customer.created",
                delivery_id=name,
                payload={
                    **load_event("customer.created")["payload"],
                    "name": name,
                    "updated_at": at,
                },
            ),
        )
        for name, at in (("older", "2024-04-23T10:00:00Z"), ("newer", "2024-04-23T11:00:00Z"))
    )
    Customer.objects.create(external_id=customer_id, name="stored")
    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            # A store of the customer in progress: its row locked until the commit.
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT 1 FROM meters_customer WHERE external_id = %s FOR UPDATE", [customer_id]
            )
            threads = [DeliveryThread(newer.pk), DeliveryThread(older.pk)]
            for thread in threads:
                thread.start()
            wait_for(
                lambda: waiting_for_a_row() == 2,
                timeout=TIMEOUT,
                what="both deliveries to wait for the customer's row",
            )
            cursor.execute("COMMIT")
    finally:
        holder.close()
    for thread in threads:
        thread.finish()

    assert_processed(older, newer)
    assert Customer.objects.get(external_id=customer_id).name == "newer"
