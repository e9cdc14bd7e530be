"""The made-up names and ids of the demo objects: the same for the same number on every run."""

import hashlib

_PREFIXES = [
    "Northwind", "Contoso", "Fabrikam", "Tailspin", "Woodgrove", "Litware", "Proseware",
    "Adatum", "Wingtip", "Alpine", "Bellows", "Coho", "Fourth Coffee", "Humongous", "Lucerne",
    "Margie's", "Nod", "Relecloud", "Trey", "Wide World",
]  # fmt: skip
_TRADES = [
    "Cold Storage", "Bakery", "Logistics", "Foods", "Hotels", "Laundry", "Brewery", "Dairy",
    "Printing", "Garden Centre", "Leisure Centre", "Motors", "Packaging", "Textiles", "Vets",
]  # fmt: skip
_SUFFIXES = ["Ltd", "plc", "LLP", "& Sons Ltd"]
_STREETS = ["High Street", "Station Road", "Mill Lane", "Church Road", "Park Avenue", "Quay Side"]
_TOWNS = ["Leeds", "Bristol", "Norwich", "Derby", "Exeter", "York", "Bath", "Hull", "Ely"]
_UTILITIES = ["Octopus Energy", "EDF Energy", "E.ON Next", "British Gas", "Ecotricity"]


def demo_id(kind: str, number: int, *, length: int = 24) -> str:
    """An id shaped like Openvolt's (hex), the same for the same kind and number."""
    return hashlib.md5(f"switchboard-demo:{kind}:{number}".encode()).hexdigest()[:length]


def demo_uuid(kind: str, number: int) -> str:
    digest = demo_id(kind, number, length=32)
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def company_name(number: int) -> str:
    prefix = _PREFIXES[number % len(_PREFIXES)]
    trade = _TRADES[(number // len(_PREFIXES)) % len(_TRADES)]
    suffix = _SUFFIXES[number % len(_SUFFIXES)]
    rounds = number // (len(_PREFIXES) * len(_TRADES))
    return f"{prefix} {trade}{f' {rounds + 1}' if rounds else ''} {suffix}"


def company_email(*, name: str) -> str:
    slug = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())
    return f"energy@{slug}.example"


def company_address(*, number: int) -> str:
    street = _STREETS[number % len(_STREETS)]
    return f"{number % 180 + 1} {street}, {_TOWNS[number % len(_TOWNS)]}"


def utility_name(*, number: int) -> str:
    return _UTILITIES[number % len(_UTILITIES)]


def meter_number(number: int) -> str:
    """Mostly 13-digit UK MPANs; one in five an 18-digit Dutch EAN."""
    if number % 5 == 4:
        return "871687" + f"{(number * 7919 + 4049) % 10**12:012d}"
    return "19" + f"{(number * 7919 + 123457) % 10**11:011d}"
