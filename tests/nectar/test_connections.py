"""Nectar connection events mirrored into consents.UtilityConnection and ConnectionAccount."""

import itertools
from datetime import UTC, datetime

import pytest

from consents.models import ConnectionAccount, UtilityConnection
from events.models import Delivery
from tests.support.nectar import CONNECTION_TYPES, event_like, load, utc

pytestmark = pytest.mark.django_db

PROCESSED = Delivery.Status.PROCESSED
# Model fields that are ours, not Nectar's: checked by the tests that set them, if any.
BOOKKEEPING = {"id", "validated_at", "mirrored_at"}

# Each lifecycle as Nectar lives it: Harbor Foods (v1) is updated then validated, Northwind
# (v2) validated then updated. Within each, the fixtures' `updated` grow in this order.
LIFECYCLES = {
    "v1": ("connection.created", "connection.updated", "connection.validated"),
    "v2": ("connection.created.v2", "connection.validated.v2", "connection.updated.v2"),
}


def expected_connection(event):
    """What the mirror must hold for a connection event, read from the event independently."""
    company = event["company"]
    return {
        "external_id": event["id"],
        "status": event["status"],
        "country": event.get("country") or "",
        "data_source": event["datasource"]["name"],
        "company_nectar_id": company["id"],
        "company_external_id": company.get("externalId") or "",
        "company_public_id": company.get("publicId") or "",
        "company_name": company["name"],
        "emails": event["emails"],
        "url": event.get("url") or "",
        "created_on_platform": utc(event["created"]),
        "platform_updated_at": utc(event["updated"]),
        "raw": event,
    }


MIRRORED_FIELDS = tuple(expected_connection(load("connection.created")))


def expected_accounts(event):
    return sorted(
        (
            account["accountNumber"],
            account.get("datasourceTypes") or [],
            (account.get("site") or {}).get("id", ""),
            (account.get("site") or {}).get("name", ""),
        )
        for account in event["accounts"]
    )


def mirrored_connection(connection):
    connection.refresh_from_db()
    return {field: getattr(connection, field) for field in MIRRORED_FIELDS}


def mirrored_accounts(connection):
    return sorted(
        connection.accounts.values_list(
            "account_number", "data_source_types", "site_nectar_id", "site_name"
        )
    )


def snapshot(connection):
    """Everything a stale event must leave alone."""
    return (mirrored_connection(connection), mirrored_accounts(connection), connection.validated_at)


def test_expectations_cover_every_field_of_the_mirror():
    fields = {field.name for field in UtilityConnection._meta.concrete_fields}
    assert set(expected_connection(load("connection.created"))) | BOOKKEEPING == fields
    account_fields = {field.name for field in ConnectionAccount._meta.concrete_fields}
    assert account_fields == {
        "id",
        "connection",
        "account_number",
        "data_source_types",
        "site_nectar_id",
        "site_name",
    }


@pytest.mark.parametrize("event_type", CONNECTION_TYPES)
def test_connection_event_mirrors_every_field(deliver, event_type):
    event = load(event_type)

    delivery = deliver(event)

    assert delivery.status == PROCESSED, delivery.error
    connection = UtilityConnection.objects.get()
    assert mirrored_connection(connection) == expected_connection(event)
    assert mirrored_accounts(connection) == expected_accounts(event)
    if event_type.startswith("connection.validated"):
        assert connection.validated_at == utc(event["updated"])
    else:
        assert connection.validated_at is None
    assert event["company"]["name"] in delivery.summary
    assert f"{len(event['accounts'])} account(s)" in delivery.summary


def test_connection_updated_is_mirrored_with_these_values(deliver):
    """The same as above, spelled out for one fixture, so a mistake shared by the fixture
    reading above and the handler cannot hide."""
    deliver("connection.updated")

    connection = UtilityConnection.objects.get()
    assert connection.external_id == "3f6c2a9e-8b1d-4e7a-9c05-2d7b6e1f4a83"
    assert connection.status == "ACTIVE"
    assert connection.country == "US"
    assert connection.data_source == "Pacific Gas and Electric"
    assert connection.company_nectar_id == "a71e4c0b-5d92-4f38-8e6a-0c9d3b2f1e57"
    assert connection.company_external_id == "HF-0042"
    assert connection.company_public_id == "c2d8f1a4-7e3b-49c6-b05d-8a1f6e9c3b27"
    assert connection.company_name == "Harbor Foods Inc."
    assert connection.emails == ["energy@harborfoods.com", "ap@harborfoods.com"]
    assert connection.url == (
        "https://app.nectarclimate.com/connections/3f6c2a9e-8b1d-4e7a-9c05-2d7b6e1f4a83"
    )
    assert connection.created_on_platform == datetime(2024, 11, 4, 16, 2, 11, 482913, tzinfo=UTC)
    assert connection.platform_updated_at == datetime(2024, 11, 6, 9, 47, 53, 118204, tzinfo=UTC)
    assert connection.raw["protectedChanges"] == ["status", "accounts"]
    oakland, san_jose = connection.accounts.order_by("site_name")
    assert oakland.account_number == "4839201756-3"
    assert oakland.data_source_types == ["ELECTRICITY", "GAS"]
    assert oakland.site_nectar_id == "0b8e6f2d-94c1-4a57-b3e0-6d2f8a1c5e49"
    assert oakland.site_name == "Harbor Foods - Oakland DC"
    assert san_jose.account_number == "1029384756-1"
    assert san_jose.data_source_types == ["ELECTRICITY"]
    assert san_jose.site_name == "Harbor Foods - San Jose Store 12"


def test_account_without_a_site_is_kept_with_empty_site(deliver):
    deliver("connection.updated.v2")

    hull = ConnectionAccount.objects.get(account_number="A-90B4E6F1")
    assert (hull.site_nectar_id, hull.site_name, hull.data_source_types) == ("", "", [])


# --- A second delivery of the same connection ---------------------------------------------


def fewer_accounts(event_type):
    """A later version of the fixture with only its last account left."""
    event = load(event_type)
    return event_like(
        event_type,
        accounts=event["accounts"][-1:],
        updated=event["updated"][:10] + "T23:59:59.999999999",
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("connection.created", "connection.updated"),
        ("connection.updated", "connection.updated"),
        ("connection.created.v2", "connection.updated.v2"),
        ("connection.updated.v2", "connection.updated.v2"),
        ("connection.updated", fewer_accounts("connection.updated")),
        ("connection.updated.v2", fewer_accounts("connection.updated.v2")),
    ],
    ids=[
        "v1-created-then-updated",
        "v1-updated-twice",
        "v2-created-then-updated",
        "v2-updated-twice",
        "v1-account-dropped",
        "v2-account-dropped",
    ],
)
def test_second_delivery_replaces_the_accounts(deliver, first, second):
    second = load(second) if isinstance(second, str) else second
    deliver(first)

    delivery = deliver(second)

    assert delivery.status == PROCESSED, delivery.error
    connection = UtilityConnection.objects.get()
    assert mirrored_accounts(connection) == expected_accounts(second)
    assert ConnectionAccount.objects.count() == len(second["accounts"])
    assert mirrored_connection(connection) == expected_connection(second)


# --- Order of arrival ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_older_update_arriving_after_a_newer_one_changes_nothing(deliver, version):
    newer = load(LIFECYCLES[version][-1])
    older = event_like(
        "connection.updated" if version == "v1" else "connection.updated.v2",
        status="ERROR",
        emails=["someone-else@example.com"],
        accounts=[{"accountNumber": "0000000000", "datasourceTypes": ["WATER"]}],
        updated=newer["created"],  # after its creation, before what is mirrored
    )
    deliver(newer)
    connection = UtilityConnection.objects.get()
    before = snapshot(connection)

    delivery = deliver(older)

    assert delivery.status == PROCESSED, delivery.error
    assert delivery.summary.startswith("Older than the mirrored connection")
    assert "nothing changed" in delivery.summary
    assert snapshot(connection) == before


ARRIVALS = [
    pytest.param(
        [LIFECYCLES[version][i] for i in order],
        id=f"{version}:" + ",".join(LIFECYCLES[version][i].split(".")[1] for i in order),
    )
    for version in LIFECYCLES
    for order in itertools.permutations(range(3))
]


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_whatever_the_order_of_arrival_the_newest_version_wins(deliver, arrival):
    events = [load(event_type) for event_type in arrival]
    newest = max(events, key=lambda event: utc(event["updated"]))
    (validation,) = [e for e in events if e["eventType"].startswith("connection.validated")]

    for position, event in enumerate(events):
        delivery = deliver(event)
        assert delivery.status == PROCESSED, delivery.error
        stale = any(utc(event["updated"]) < utc(e["updated"]) for e in events[:position])
        assert delivery.summary.startswith("Older than the mirrored") is stale, delivery.summary
        if stale:
            assert delivery.summary.endswith(
                ": only the time of its validation was kept."
                if event is validation
                else ": nothing changed."
            )

    connection = UtilityConnection.objects.get()
    assert mirrored_connection(connection) == expected_connection(newest)
    assert mirrored_accounts(connection) == expected_accounts(newest)
    # Nectar validated the connection: that is kept, whenever the news of it arrived.
    assert connection.validated_at == utc(validation["updated"])


def test_an_undated_event_does_not_make_the_mirror_forget_its_version(deliver):
    newest = load("connection.updated.v2")
    undated = event_like("connection.updated.v2")
    del undated["updated"]
    deliver(newest)
    assert deliver(undated).status == PROCESSED

    delivery = deliver("connection.created.v2")

    assert delivery.status == PROCESSED, delivery.error
    assert delivery.summary.endswith("nothing changed.")
    connection = UtilityConnection.objects.get()
    assert connection.platform_updated_at == utc(newest["updated"])
    assert connection.status == newest["status"]
