"""The sandbox's fixed Openvolt account: 3 customers, 5 meters, 3 hosted consents.

Ids are 24-hex like Openvolt's (MongoDB ObjectIds): their first 8 hex digits are the creation
time in seconds, matching `created_at`. Meter numbers are 13-digit MPANs with a valid check
digit. The catalogue tells a small story:

- Hartley & Sons Bakery (Leeds): two active meters, under a consent that expires in 14 days;
- Pennine Cold Storage (Rochdale): two active meters, and a consent approved for a new site
  whose two meters do not exist yet (`POST /meters` creates them);
- The Old Vicarage Surgery (Frome): one meter, inactive since its consent was revoked.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    email: str
    logo: str
    created_at: datetime


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str
    address: str
    logo_url: str
    created_at: datetime


@dataclass(frozen=True)
class Validity:
    """Openvolt's `validity_state`: a meter is valid when none of these holds."""

    missing_consent: bool = False
    expired_consent: bool = False
    is_disabled_by_user: bool = False
    has_invalid_meter_number: bool = False

    @property
    def valid(self) -> bool:
        return not (
            self.missing_consent
            or self.expired_consent
            or self.is_disabled_by_user
            or self.has_invalid_meter_number
        )


@dataclass(frozen=True)
class Meter:
    id: str
    meter_number: str
    customer_id: str
    created_at: datetime
    updated_at: datetime
    # Scale of the daily profile: roughly the kWh of the evening peak's half-hour.
    scale_kwh: float
    validity: Validity = field(default_factory=Validity)
    # Data stops here (a revoked consent); None: data for as long as the meter is valid.
    data_until: datetime | None = None
    enabled: bool = True
    data_source: str = "dcc"
    update_frequency: str = "daily"

    @property
    def valid(self) -> bool:
        return self.validity.valid

    @property
    def status(self) -> str:
        return "active" if self.valid else "inactive"

    def has_data_for(self, start: datetime) -> bool:
        """Whether Openvolt holds the half-hour starting at `start` (a past one)."""
        if self.data_until is not None:
            return start < self.data_until
        return self.valid


@dataclass(frozen=True)
class HostedConsent:
    id: str
    customer_id: str
    meter_numbers: tuple[str, ...]
    token: str
    created_at: datetime
    consented_at: datetime
    updated_at: datetime
    revoked_at: datetime | None = None
    # A fixed expiry, or one kept a number of days ahead of today so that the catalogue
    # always has a valid consent and one about to expire.
    fixed_expiry: datetime | None = None
    expires_days_after_today: int | None = None
    flow_type: str = "gb.commercial.blanket"
    consent_method: str = "letter-of-authority"
    consentee_email_verified: bool = True

    def expiry(self, now: datetime) -> datetime:
        if self.fixed_expiry is not None:
            return self.fixed_expiry
        today = now.astimezone(UTC).date()
        return _midnight(today + timedelta(days=self.expires_days_after_today or 0))

    def valid(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expiry(now) > now

    def covers(self, meter_number: str, now: datetime) -> bool:
        return self.valid(now) and meter_number in self.meter_numbers


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


ACCOUNT = Account(
    id="65c3619401f8d894424895fa",
    name="Brightwater Energy Services Ltd",
    email="developers@brightwater-energy.example",
    logo="https://brightwater-energy.example/logo.png",
    created_at=at("2024-02-07T10:55:16.577Z"),
)

HARTLEY = Customer(
    id="65e5d8afb8de97136c23554a",
    name="Hartley & Sons Bakery Ltd",
    email="accounts@hartleyandsons.example",
    address="14 Kirkgate, Leeds LS2 7DJ",
    logo_url="https://hartleyandsons.example/logo.png",
    created_at=at("2024-03-04T14:20:31.208Z"),
)
PENNINE = Customer(
    id="664b0ca5bcfc88f3247622af",
    name="Pennine Cold Storage Ltd",
    email="energy@penninecoldstorage.example",
    address="Unit 4, Moss Lane Industrial Estate, Rochdale OL16 4AB",
    logo_url="https://penninecoldstorage.example/logo.png",
    created_at=at("2024-05-20T08:41:09.733Z"),
)
VICARAGE = Customer(
    id="66e310e8b03596150b8c27c7",
    name="The Old Vicarage Surgery",
    email="practice.manager@oldvicaragesurgery.example",
    address="2 Church Street, Frome BA11 1PW",
    logo_url="https://oldvicaragesurgery.example/logo.png",
    created_at=at("2024-09-12T16:03:52.416Z"),
)
# The order matters: created meters' ids name their customer and consent by position.
CUSTOMERS = (HARTLEY, PENNINE, VICARAGE)

REVOKED_AT = at("2025-01-10T12:00:00.000Z")

BAKERY_OVENS = Meter(
    id="65e6eda38897e69740569bf3",
    meter_number="2300004518721",
    customer_id=HARTLEY.id,
    created_at=at("2024-03-05T10:02:11.940Z"),
    updated_at=at("2024-03-06T02:14:53.112Z"),
    scale_kwh=6.0,
)
BAKERY_SHOP = Meter(
    id="65e6eda47f6c579725ec7571",
    meter_number="2300004518740",
    customer_id=HARTLEY.id,
    created_at=at("2024-03-05T10:02:12.318Z"),
    updated_at=at("2024-03-06T02:14:53.420Z"),
    scale_kwh=2.5,
)
COLD_STORE = Meter(
    id="664c663cb9cca1be11c8d5a5",
    meter_number="1600008762310",
    customer_id=PENNINE.id,
    created_at=at("2024-05-21T09:15:40.122Z"),
    updated_at=at("2024-05-22T03:01:07.845Z"),
    scale_kwh=18.0,
)
COLD_STORE_OFFICE = Meter(
    id="664c663c7b444fe79d00398f",
    meter_number="1600008762392",
    customer_id=PENNINE.id,
    created_at=at("2024-05-21T09:15:40.871Z"),
    updated_at=at("2024-05-22T03:01:08.203Z"),
    scale_kwh=3.2,
)
SURGERY = Meter(
    id="66e4264e374e449497b6bc23",
    meter_number="2200013374024",
    customer_id=VICARAGE.id,
    created_at=at("2024-09-13T11:47:26.305Z"),
    updated_at=REVOKED_AT,
    scale_kwh=4.0,
    validity=Validity(missing_consent=True),
    data_until=REVOKED_AT,
)
METERS = (BAKERY_OVENS, BAKERY_SHOP, COLD_STORE, COLD_STORE_OFFICE, SURGERY)

NEW_SITE_CONSENT = HostedConsent(
    id="683da5471654524acf2a298a",
    customer_id=PENNINE.id,
    # Pennine's new site: meters not created on Openvolt yet.
    meter_numbers=("1600009211458", "1600009211476"),
    token="b7e4f0c2-5d1a-4e8b-9c3f-6a2d8e1b7f45",
    created_at=at("2025-06-02T13:21:11.341Z"),
    consented_at=at("2025-06-02T13:25:11.796Z"),
    updated_at=at("2025-06-02T13:25:11.796Z"),
    expires_days_after_today=365,
)
EXPIRING_CONSENT = HostedConsent(
    id="65e1bc3db1c4b72c46ccec04",
    customer_id=HARTLEY.id,
    meter_numbers=(BAKERY_OVENS.meter_number, BAKERY_SHOP.meter_number),
    token="0f9a6c3e-2b7d-4a51-8e6f-d3c1b9a4e072",
    created_at=at("2024-03-01T11:30:05.512Z"),
    consented_at=at("2024-03-01T11:42:37.090Z"),
    updated_at=at("2024-03-01T11:42:37.090Z"),
    expires_days_after_today=14,
)
REVOKED_CONSENT = HostedConsent(
    id="66e31734548fa12fc19f34f3",
    customer_id=VICARAGE.id,
    meter_numbers=(SURGERY.meter_number,),
    token="5c2e8b1f-9d4a-4f63-a7b0-1e6d3c9f2a58",
    created_at=at("2024-09-12T16:30:44.090Z"),
    consented_at=at("2024-09-12T16:41:03.518Z"),
    updated_at=REVOKED_AT,
    revoked_at=REVOKED_AT,
    fixed_expiry=at("2026-09-30T00:00:00.000Z"),
    consentee_email_verified=False,
)
# The order matters, as for CUSTOMERS.
HOSTED_CONSENTS = (NEW_SITE_CONSENT, EXPIRING_CONSENT, REVOKED_CONSENT)

# Someone who works at the account (the `user.created` sample).
USER = User(
    id="67810bc0f35547e37ce8d3d7",
    name="Priya Raman",
    email="priya.raman@brightwater-energy.example",
    created_at=at("2025-01-10T12:00:00.000Z"),
)

_CUSTOMERS_BY_ID = {customer.id: customer for customer in CUSTOMERS}
_METERS_BY_ID = {meter.id: meter for meter in METERS}
_CONSENTS_BY_ID = {consent.id: consent for consent in HOSTED_CONSENTS}


def customer(customer_id: str) -> Customer | None:
    return _CUSTOMERS_BY_ID.get(customer_id)


def catalogue_meter(meter_id: str) -> Meter | None:
    return _METERS_BY_ID.get(meter_id)


def hosted_consent(consent_id: str) -> HostedConsent | None:
    return _CONSENTS_BY_ID.get(consent_id)
