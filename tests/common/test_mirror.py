"""The mirror rule (common/mirror.py): one statement creates or updates an object unless what is
stored is newer; stale news writes nothing, yet takes the row's lock; two upserts of one object
at once end as if one came after the other."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import OperationalError, connection, connections, transaction

from common.mirror import ChildRows, mirror_upsert
from consents.models import ConnectionAccount, UtilityConnection
from meters.models import Customer, Meter
from tests.support.waiting import wait_for

EARLY = datetime(2024, 4, 1, 9, tzinfo=UTC)
LATE = datetime(2024, 4, 2, 9, tzinfo=UTC)
TIMEOUT = 20


def customer_upsert(name: str, dated: datetime | None) -> tuple[Customer, bool]:
    return mirror_upsert(
        model=Customer,
        external_id="cus_1",
        values={"name": name, "email": f"{name}@example.com", "raw": {"name": name}},
        platform_updated_at=dated,
    )


def connection_upsert(
    company: str, dated: datetime | None, accounts: list[str]
) -> tuple[UtilityConnection, bool]:
    return mirror_upsert(
        model=UtilityConnection,
        external_id="con_1",
        values={"company_nectar_id": "cmp_1", "company_name": company, "emails": [company]},
        platform_updated_at=dated,
        children=[
            ChildRows(
                model=ConnectionAccount,
                parent_field="connection",
                related_name="accounts",
                rows=[{"account_number": number} for number in accounts],
            )
        ],
    )


def accounts() -> list[str]:
    return sorted(ConnectionAccount.objects.values_list("account_number", flat=True))


@pytest.mark.django_db
def test_a_new_object_is_created_in_one_statement(django_assert_num_queries):
    with django_assert_num_queries(1):
        customer, changed = customer_upsert("first", EARLY)

    assert changed is True
    stored = Customer.objects.get()
    assert (customer.pk, customer.name, customer.raw) == (stored.pk, "first", {"name": "first"})
    assert (stored.name, stored.email, stored.raw) == ("first", "first@example.com", customer.raw)
    assert stored.platform_updated_at == customer.platform_updated_at == EARLY
    assert stored.mirrored_at == customer.mirrored_at


# (stored version's date, incoming news' date) -> changed, the platform's date kept after.
CASES = [
    pytest.param(EARLY, LATE, True, LATE, id="newer news"),
    pytest.param(EARLY, EARLY, True, EARLY, id="news of the same moment"),
    pytest.param(LATE, EARLY, False, LATE, id="older news"),
    pytest.param(EARLY, None, True, EARLY, id="undated news: the known version kept"),
    pytest.param(None, EARLY, True, EARLY, id="first dated news"),
    pytest.param(None, None, True, None, id="undated news of an undated object"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("stored", "incoming", "changed", "dated"), CASES)
def test_news_changes_the_mirror_unless_older(
    stored, incoming, changed, dated, django_assert_num_queries
):
    before, _ = customer_upsert("before", stored)

    # Stale news reads the row as it is stored, in a statement of its own.
    with django_assert_num_queries(1 if changed else 2):
        customer, was_changed = customer_upsert("after", incoming)

    assert was_changed is changed
    row = Customer.objects.get()
    expected = "after" if changed else "before"
    assert (row.name, row.email, row.raw) == (
        expected,
        f"{expected}@example.com",
        {"name": expected},
    )
    assert row.platform_updated_at == customer.platform_updated_at == dated
    assert (row.mirrored_at > before.mirrored_at) is changed
    assert (customer.pk, customer.name, customer.mirrored_at) == (row.pk, row.name, row.mirrored_at)


@pytest.mark.django_db
def test_an_update_writes_only_the_fields_given_and_returns_them_as_given(
    django_assert_num_queries,
):
    owner = Customer.objects.create(external_id="cus_owner", name="Owner")
    Meter.objects.create(
        external_id="mtr_1",
        meter_number="100",
        latest_reading_start=EARLY,
        platform_updated_at=EARLY,
    )

    with django_assert_num_queries(1):
        meter, changed = mirror_upsert(
            model=Meter,
            external_id="mtr_1",
            values={"meter_number": "200", "customer": owner},
            platform_updated_at=LATE,
        )
        # The customer given is the meter's, without another query.
        assert meter.customer is owner

    assert changed is True
    row = Meter.objects.get()
    assert (row.meter_number, row.customer_id, row.platform_updated_at) == ("200", owner.pk, LATE)
    # Ours, not the platform's: kept, on the row and on the object returned.
    assert row.latest_reading_start == meter.latest_reading_start == EARLY


@pytest.mark.django_db
def test_child_rows_come_with_the_object_and_are_replaced_with_it(django_assert_num_queries):
    # Created: the rows inserted, nothing deleted.
    with django_assert_num_queries(2):
        connection_upsert("First", EARLY, ["A-1", "A-2"])
    assert accounts() == ["A-1", "A-2"]

    # Updated: replaced as a set.
    with django_assert_num_queries(3):
        connection_upsert("Second", LATE, ["B-1"])
    assert accounts() == ["B-1"]

    # Stale: left alone.
    _, changed = connection_upsert("Old", EARLY, ["C-1"])
    assert changed is False
    assert accounts() == ["B-1"]
    assert UtilityConnection.objects.get().company_name == "Second"


@pytest.mark.django_db(transaction=True)
def test_stale_news_holds_the_rows_lock_until_the_transaction_ends():
    customer_upsert("stored", LATE)
    other = connections.create_connection("default")
    try:
        with transaction.atomic():
            _, changed = customer_upsert("stale", EARLY)
            assert changed is False
            with other.cursor() as cursor, pytest.raises(OperationalError, match="lock"):
                cursor.execute("SELECT 1 FROM meters_customer FOR UPDATE NOWAIT")
    finally:
        other.close()


class UpsertThread(threading.Thread):
    """connection_upsert in a transaction on a connection of its own, held open until
    `release` is set, when given."""

    def __init__(self, *args, release: threading.Event | None = None):
        super().__init__(daemon=True)
        self.args_ = args
        self.release = release
        self.upserted = threading.Event()
        self.result = None
        self.error: BaseException | None = None
        self.pid: int | None = None

    def run(self):
        try:
            with transaction.atomic():
                self.pid = connection.cursor().connection.info.backend_pid
                self.result = connection_upsert(*self.args_)
                self.upserted.set()
                if self.release is not None:
                    self.release.wait(TIMEOUT)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connections.close_all()

    def finish(self):
        self.join(TIMEOUT)
        assert not self.is_alive(), "the upsert still runs"
        assert self.error is None, self.error
        return self.result


def waits_for_a_lock(pid: int | None) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
        return bool(row and row[0] == "Lock")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("second_dated", "changed", "company", "expected_accounts"),
    [
        pytest.param(LATE, True, "Second", ["B-1"], id="newer: updates what the first created"),
        pytest.param(EARLY, False, "First", ["A-1"], id="older: sees what the first created"),
    ],
)
def test_two_upserts_of_one_new_object_at_once_end_one_after_the_other(
    second_dated, changed, company, expected_accounts
):
    release = threading.Event()
    first = UpsertThread("First", datetime(2024, 4, 1, 12, tzinfo=UTC), ["A-1"], release=release)
    first.start()
    try:
        assert first.upserted.wait(TIMEOUT), "the first upsert did not run"
        second = UpsertThread("Second", second_dated, ["B-1"])
        second.start()
        # The first's row is not committed yet: the second waits for its transaction to end.
        wait_for(lambda: waits_for_a_lock(second.pid), timeout=TIMEOUT, what="the second to wait")
    finally:
        release.set()
    first.finish()
    mirrored, was_changed = second.finish()

    assert was_changed is changed
    row = UtilityConnection.objects.get()
    assert mirrored.pk == row.pk
    assert mirrored.company_name == row.company_name == company
    assert accounts() == expected_accounts
