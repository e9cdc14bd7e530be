"""The sandbox's meters: the catalogue's, and those made by `POST /meters`.

The sandbox has no database and gunicorn runs several processes, so a created meter is kept
in its id, which any process can read back. Like an ObjectId, the id starts with its creation
time (8 hex digits of seconds); then a marker, one hex digit naming the customer and the
consent (their positions in the catalogue), and the 13 digits of the MPAN:

    683da547  5b  4  1600009211458
    seconds   |   |  meter number
          marker  customer * 4 + consent (3: no consent)
"""

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime

from sandbox import catalogue
from sandbox.catalogue import Customer, HostedConsent, Meter, Validity

CREATED_MARKER = "5b"
NO_CONSENT = 3
CREATED_ID = re.compile(r"^(?P<seconds>[0-9a-f]{8})5b(?P<slots>[0-9a-f])(?P<number>[0-9]{13})$")
MPAN = re.compile(r"^[0-9]{13}$")
# Weights of the MPAN core's check digit (the 13th), per the Master Registration Agreement.
MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)

assert len(catalogue.HOSTED_CONSENTS) <= NO_CONSENT, "a consent's slot would read as 'none'"
assert len(catalogue.CUSTOMERS) * 4 <= 16, "customer and consent must fit one hex digit"


def is_mpan(meter_number: str) -> bool:
    """Thirteen digits: what the sandbox's meter ids can hold."""
    return bool(MPAN.match(meter_number))


def mpan_check_digit_ok(meter_number: str) -> bool:
    digits = [int(digit) for digit in meter_number]
    total = sum(digit * weight for digit, weight in zip(digits[:12], MPAN_WEIGHTS, strict=True))
    return total % 11 % 10 == digits[12]


def find(meter_id: str, *, now: datetime) -> Meter | None:
    return catalogue.catalogue_meter(meter_id) or _decode(meter_id, now=now)


def create(
    *,
    meter_number: str,
    customer: Customer,
    consent: HostedConsent | None,
    now: datetime,
    data_source: str = "dcc",
) -> Meter:
    """The meter `POST /meters` answers with; `find` knows it from its id alone."""
    if not is_mpan(meter_number):
        raise ValueError(f"{meter_number!r} is not a 13-digit MPAN.")
    seconds = int(now.timestamp())
    customer_slot = catalogue.CUSTOMERS.index(customer)
    consent_slot = NO_CONSENT if consent is None else catalogue.HOSTED_CONSENTS.index(consent)
    meter_id = f"{seconds:08x}{CREATED_MARKER}{customer_slot * 4 + consent_slot:x}{meter_number}"
    meter = _created_meter(
        meter_id, meter_number, customer, consent, datetime.fromtimestamp(seconds, UTC), now
    )
    return replace(meter, data_source=data_source)


def _decode(meter_id: str, *, now: datetime) -> Meter | None:
    match = CREATED_ID.match(meter_id)
    if match is None:
        return None
    customer_slot, consent_slot = divmod(int(match["slots"], 16), 4)
    if customer_slot >= len(catalogue.CUSTOMERS):
        return None
    if consent_slot == NO_CONSENT:
        consent = None
    elif consent_slot < len(catalogue.HOSTED_CONSENTS):
        consent = catalogue.HOSTED_CONSENTS[consent_slot]
    else:
        return None
    created_at = datetime.fromtimestamp(int(match["seconds"], 16), UTC)
    customer = catalogue.CUSTOMERS[customer_slot]
    return _created_meter(meter_id, match["number"], customer, consent, created_at, now)


def _created_meter(
    meter_id: str,
    meter_number: str,
    customer: Customer,
    consent: HostedConsent | None,
    created_at: datetime,
    now: datetime,
) -> Meter:
    covered = consent is not None and consent.revoked_at is None
    covered = covered and meter_number in consent.meter_numbers
    validity = Validity(
        missing_consent=not covered,
        expired_consent=covered and consent.expiry(now) <= now,
        has_invalid_meter_number=not mpan_check_digit_ok(meter_number),
    )
    return Meter(
        id=meter_id,
        meter_number=meter_number,
        customer_id=customer.id,
        created_at=created_at,
        updated_at=created_at,
        scale_kwh=_scale_kwh(meter_number),
        validity=validity,
    )


def _scale_kwh(meter_number: str) -> float:
    """A size between 1.5 and 12 kWh per peak half-hour, the same for a meter every time."""
    fraction = hashlib.sha256(meter_number.encode()).digest()[0] / 255
    return round(1.5 + 10.5 * fraction, 1)
