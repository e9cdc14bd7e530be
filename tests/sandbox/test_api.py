"""The sandbox API, called through our real Openvolt client over HTTP."""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.utils import timezone

from events.sources import openvolt_api
from events.sources.openvolt_api import (
    OpenvoltClient,
    OpenvoltError,
    OpenvoltNotConfigured,
    OpenvoltNotFound,
)
from sandbox import catalogue

pytestmark = pytest.mark.live

HALF_HOUR = timedelta(minutes=30)
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
# The keys of the hosted_consent.revoked payload in Openvolt's "Event Types" page.
CONSENT_KEYS = {
    "id",
    "account",
    "customer",
    "expiry",
    "redirect_url",
    "flow_type",
    "consent_method",
    "consentee_email_verified",
    "meter_numbers",
    "token",
    "created_at",
    "consented_at",
    "hosted_consent_version",
    "updated_at",
    "revoked_at",
    "hosted_consent_link",
    "valid",
}
CUSTOMER_KEYS = {"account", "name", "email", "address", "logo_url", "created_at"}


@pytest.fixture
def calls(monkeypatch):
    """The query of every /interval-data call the client makes."""
    seen = []
    send = httpx.request

    def recording(method, url, **kwargs):
        if url.endswith("/interval-data"):
            seen.append(kwargs["params"])
        return send(method, url, **kwargs)

    monkeypatch.setattr(openvolt_api.httpx, "request", recording)
    return seen


def test_thirteen_months_of_interval_data_come_in_31_day_chunks(openvolt, calls):
    start = datetime(2024, 3, 1, tzinfo=UTC)
    end = datetime(2025, 4, 1, tzinfo=UTC)

    intervals = openvolt.interval_data(catalogue.COLD_STORE.id, start, end)

    days = (end - start).days
    starts = [interval.start for interval in intervals]
    assert len(starts) == days * 48
    assert starts[0] == start
    assert starts[-1] == end - HALF_HOUR
    assert all(later - earlier == HALF_HOUR for earlier, later in pairwise(starts))
    assert set(Counter(moment.date() for moment in starts).values()) == {48}
    assert all(interval.consumption_kwh > 0 for interval in intervals)

    chunks = [(p["start_date"], p["end_date"]) for p in calls]
    assert len(chunks) == 13
    assert chunks[0][0] == "2024-03-01T00:00:00.000Z"
    assert chunks[-1][1] == "2025-04-01T00:00:00.000Z"
    for (_, chunk_end), (next_start, _) in pairwise(chunks):
        assert chunk_end == next_start


def test_interval_data_is_the_same_on_every_fetch(openvolt):
    start = datetime(2025, 1, 6, tzinfo=UTC)

    first = openvolt.interval_data(catalogue.BAKERY_OVENS.id, start, start + timedelta(days=2))
    again = openvolt.interval_data(catalogue.BAKERY_OVENS.id, start, start + timedelta(days=2))

    assert first == again
    assert len(first) == 96


def test_interval_data_in_another_zone_asks_for_the_same_half_hours(openvolt):
    start = datetime(2024, 7, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    london = ZoneInfo("Europe/London")  # UTC+1 in July

    in_utc = openvolt.interval_data(catalogue.BAKERY_SHOP.id, start, end)
    in_london = openvolt.interval_data(
        catalogue.BAKERY_SHOP.id, start.astimezone(london), end.astimezone(london)
    )

    assert in_london == in_utc
    assert len(in_london) == 48


def test_the_raw_answer_includes_the_interval_starting_at_end_date(sandbox_url):
    answer = httpx.get(
        sandbox_url + "/interval-data",
        params={
            "meter_id": catalogue.BAKERY_OVENS.id,
            "start_date": "2025-01-06T00:00:00.000Z",
            "end_date": "2025-01-07T00:00:00.000Z",
            "granularity": "hh",
        },
        headers={"x-api-key": "k"},
    )

    assert answer.status_code == 200
    document = answer.json()
    assert document["startInterval"] == "2025-01-06T00:00:00.000Z"
    assert document["endInterval"] == "2025-01-07T00:00:00.000Z"
    assert document["granularity"] == "hh"
    rows = document["data"]
    assert len(rows) == 49
    assert rows[-1]["start_interval"] == "2025-01-07T00:00:00.000Z"
    assert rows[0] == {
        "start_interval": "2025-01-06T00:00:00.000Z",
        "meter_id": catalogue.BAKERY_OVENS.id,
        "meter_number": catalogue.BAKERY_OVENS.meter_number,
        "customer_id": catalogue.HARTLEY.id,
        "consumption": rows[0]["consumption"],
        "consumption_units": "kWh",
    }
    assert all(re.fullmatch(r"\d+\.\d{3}", row["consumption"]) for row in rows)


def test_interval_data_has_no_future_and_stops_at_a_revocation(openvolt):
    now = timezone.now()
    recent = openvolt.interval_data(catalogue.BAKERY_OVENS.id, now - timedelta(days=1), now)
    assert recent
    assert recent[-1].start + HALF_HOUR <= now

    revoked = catalogue.REVOKED_AT
    surgery = openvolt.interval_data(
        catalogue.SURGERY.id, revoked - timedelta(days=1), revoked + timedelta(days=1)
    )
    assert len(surgery) == 48
    assert surgery[-1].start == revoked - HALF_HOUR


def test_a_range_over_31_days_is_refused(openvolt, sandbox_url):
    answer = httpx.get(
        sandbox_url + "/interval-data",
        params={
            "meter_id": catalogue.BAKERY_OVENS.id,
            "start_date": "2025-01-01T00:00:00.000Z",
            "end_date": "2025-02-01T00:30:00.000Z",
            "granularity": "hh",
        },
        headers={"x-api-key": "k"},
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_meter_has_its_customer_as_a_full_object(openvolt):
    meter = openvolt.meter(catalogue.BAKERY_OVENS.id)

    assert meter["_id"] == catalogue.BAKERY_OVENS.id
    assert meter["meter_number"] == "2300004518721"
    assert meter["customer"]["_id"] == catalogue.HARTLEY.id
    assert set(meter["customer"]) == CUSTOMER_KEYS | {"_id"}
    assert meter["account"] == catalogue.ACCOUNT.id
    assert meter["status"] == "active"
    assert meter["valid"] is True
    assert set(meter["validity_state"]) == {
        "missing_consent",
        "expired_consent",
        "is_disabled_by_user",
        "has_invalid_meter_number",
    }
    for key in ("enabled", "data_source", "update_frequency", "created_at", "updated_at"):
        assert key in meter


def test_meter_whose_consent_was_revoked_is_inactive(openvolt):
    meter = openvolt.meter(catalogue.SURGERY.id)

    assert meter["status"] == "inactive"
    assert meter["valid"] is False
    assert meter["validity_state"]["missing_consent"] is True


def test_customer(openvolt):
    customer = openvolt.customer(catalogue.PENNINE.id)

    assert customer["_id"] == catalogue.PENNINE.id
    assert set(customer) == CUSTOMER_KEYS | {"_id"}
    assert customer["name"] == "Pennine Cold Storage Ltd"


def test_hosted_consents_are_shaped_as_the_revoked_payload(openvolt):
    now = timezone.now()
    approved = openvolt.hosted_consent(catalogue.NEW_SITE_CONSENT.id)
    expiring = openvolt.hosted_consent(catalogue.EXPIRING_CONSENT.id)
    revoked = openvolt.hosted_consent(catalogue.REVOKED_CONSENT.id)

    for consent in (approved, expiring, revoked):
        assert set(consent) == CONSENT_KEYS
        assert set(consent["account"]) == {"id", "name", "logo"}
        assert set(consent["customer"]) == CUSTOMER_KEYS | {"id"}
    assert approved["valid"] is True
    assert approved["revoked_at"] is None
    assert approved["meter_numbers"] == ["1600009211458", "1600009211476"]
    assert expiring["valid"] is True
    assert now < datetime.fromisoformat(expiring["expiry"]) < now + timedelta(days=30)
    assert revoked["valid"] is False
    assert revoked["revoked_at"] == "2025-01-10T12:00:00.000Z"


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.meter("0123456789abcdef01234567"),
        lambda client: client.customer("0123456789abcdef01234567"),
        lambda client: client.hosted_consent("0123456789abcdef0123abcd"),
        lambda client: client.interval_data(
            "0123456789abcdef01234567",
            datetime(2025, 1, 1, tzinfo=UTC),
            datetime(2025, 1, 2, tzinfo=UTC),
        ),
    ],
    ids=["meter", "customer", "hosted consent", "interval data"],
)
def test_unknown_ids_are_not_found(openvolt, call):
    with pytest.raises(OpenvoltNotFound):
        call(openvolt)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": ""}], ids=["missing", "empty"])
def test_a_request_without_api_key_is_refused(sandbox_url, headers):
    answer = httpx.get(f"{sandbox_url}/meters/{catalogue.BAKERY_OVENS.id}", headers=headers)

    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"


def test_a_blank_key_is_no_key(sandbox_url):
    client = OpenvoltClient(base_url=sandbox_url, api_key=" \n", attempts=1)

    with pytest.raises(OpenvoltNotConfigured):
        client.customer(catalogue.HARTLEY.id)


def test_a_key_read_with_its_newline_is_sent_without_it(sandbox_url):
    client = OpenvoltClient(base_url=sandbox_url, api_key="k\n", attempts=1)

    assert client.customer(catalogue.HARTLEY.id)["_id"] == catalogue.HARTLEY.id


def test_an_unknown_route_answers_json_404(sandbox_url):
    answer = httpx.get(sandbox_url + "/accounts", headers={"x-api-key": "k"})

    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_created_meter_can_be_read_back(openvolt):
    number = catalogue.NEW_SITE_CONSENT.meter_numbers[0]

    created = openvolt.create_meter(
        meter_number=number,
        customer_id=catalogue.PENNINE.id,
        hosted_consent_id=catalogue.NEW_SITE_CONSENT.id,
        data_source="dcc",
    )

    assert OBJECT_ID.match(created["_id"])
    assert created["meter_number"] == number
    assert created["customer"]["_id"] == catalogue.PENNINE.id
    assert created["status"] == "active"
    assert created["valid"] is True
    assert openvolt.meter(created["_id"]) == created
    day = datetime(2025, 1, 6, tzinfo=UTC)
    readings = openvolt.interval_data(created["_id"], day, day + timedelta(days=1))
    assert len(readings) == 48
    assert all(isinstance(reading.consumption_kwh, Decimal) for reading in readings)


def test_post_meters_answers_201(sandbox_url):
    answer = httpx.post(
        sandbox_url + "/meters",
        json={
            "meter_number": catalogue.NEW_SITE_CONSENT.meter_numbers[1],
            "customer_id": catalogue.PENNINE.id,
            "hosted_consent_id": catalogue.NEW_SITE_CONSENT.id,
            "data_source": "electralink",
        },
        headers={"x-api-key": "k"},
    )

    assert answer.status_code == 201
    assert answer.json()["meter_number"] == catalogue.NEW_SITE_CONSENT.meter_numbers[1]
    assert answer.json()["data_source"] == "electralink"


@pytest.mark.parametrize("data_source", [None, "", "smart-meter-magic"])
def test_post_meters_refuses_a_missing_or_unknown_data_source(sandbox_url, data_source):
    # As Openvolt's published description: data_source is required, one of a fixed list.
    body = {
        "meter_number": catalogue.NEW_SITE_CONSENT.meter_numbers[1],
        "customer_id": catalogue.PENNINE.id,
        "hosted_consent_id": catalogue.NEW_SITE_CONSENT.id,
    }
    if data_source is not None:
        body["data_source"] = data_source

    answer = httpx.post(sandbox_url + "/meters", json=body, headers={"x-api-key": "k"})

    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("data_source is required, one of electralink, dcc")


def test_a_meter_its_consent_does_not_cover_is_created_inactive(openvolt):
    created = openvolt.create_meter(
        meter_number="1600009211483",
        customer_id=catalogue.PENNINE.id,
        hosted_consent_id=catalogue.NEW_SITE_CONSENT.id,
        data_source="dcc",
    )

    assert created["status"] == "inactive"
    assert created["validity_state"]["missing_consent"] is True
    assert openvolt.meter(created["_id"])["valid"] is False
    day = datetime(2025, 1, 6, tzinfo=UTC)
    assert openvolt.interval_data(created["_id"], day, day + timedelta(days=1)) == []


def test_creating_a_meter_for_an_unknown_customer_is_not_found(openvolt):
    with pytest.raises(OpenvoltNotFound):
        openvolt.create_meter(
            meter_number="1600009211458",
            customer_id="0123456789abcdef01234567",
            hosted_consent_id=catalogue.NEW_SITE_CONSENT.id,
            data_source="dcc",
        )


@pytest.mark.parametrize(
    ("meter_number", "customer", "error"),
    [
        ("12345", catalogue.PENNINE, "answered 400"),  # not an MPAN
        ("1600009211458", catalogue.HARTLEY, "answered 400"),  # the consent is Pennine's
        (catalogue.COLD_STORE.meter_number, catalogue.PENNINE, "already has it"),  # 409
    ],
    ids=["bad number", "other customer's consent", "existing meter"],
)
def test_creating_a_meter_openvolt_would_refuse(openvolt, meter_number, customer, error):
    with pytest.raises(OpenvoltError, match=error):
        openvolt.create_meter(
            meter_number=meter_number,
            customer_id=customer.id,
            hosted_consent_id=catalogue.NEW_SITE_CONSENT.id,
            data_source="dcc",
        )
