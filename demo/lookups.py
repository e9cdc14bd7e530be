"""The lookup tables that number the demo objects (demo_meter, demo_bill, demo_connection), for
the statements that generate deliveries and readings to join on.

Ordinary tables (unlogged: nothing to recover), not temporary ones, so that both connections of
a run read them; made before either starts its transaction, whose locks would otherwise keep
the other waiting (dropping a foreign key locks the table it points to).
"""

from datetime import timedelta

from django.urls import reverse

from consents.models import HostedConsent, UtilityConnection
from demo.names import demo_id, demo_uuid
from demo.plan import Plan
from meters.models import Meter, UtilityBill

_DROP = "DROP TABLE IF EXISTS demo_meter, demo_bill, demo_connection"


def lookup_tables_create(*, cursor, plan: Plan) -> None:
    cursor.execute(_DROP)
    _demo_meter_create(cursor, plan)
    _demo_bill_create(cursor, plan)
    _demo_connection_create(cursor, plan)
    cursor.execute("ANALYZE demo_meter, demo_bill, demo_connection")


def lookup_tables_drop(*, cursor) -> None:
    cursor.execute(_DROP)


def _demo_meter_create(cursor, plan: Plan) -> None:
    """A row per meter, with its customer and consent and how many readings it is to have,
    up to which half-hour: the meters that were read come first."""
    meters = {
        m.external_id: m
        for m in Meter.objects.filter(
            external_id__in=[demo_id("meter", n) for n in range(plan.meters)]
        ).select_related("customer")
    }
    cursor.execute(
        "CREATE UNLOGGED TABLE demo_meter (n int PRIMARY KEY, pk bigint, "
        "external_id text, meter_number text, path text, customer_id text, "
        "customer_name text, customer_email text, customer_path text, consent_id text, "
        "consent_path text, base_kw float8, last_start timestamptz, readings int)"
    )
    consents = dict(
        HostedConsent.objects.filter(
            external_id__in=[demo_id("consent", n) for n in range(plan.customers)]
        ).values_list("external_id", "pk")
    )
    with_readings = [n for n in range(plan.meters) if n % 40 != 7]
    share, extra = divmod(plan.readings, len(with_readings))
    rows = []
    for index, n in enumerate(with_readings + [n for n in range(plan.meters) if n % 40 == 7]):
        meter = meters[demo_id("meter", n)]
        customer = meter.customer
        consent_id = demo_id("consent", n % plan.customers)
        # One meter in sixteen stopped sending data some days ago: the stale meters.
        stale_days = 3 + n % 20 if n % 16 == 5 else 0
        count = 0 if n % 40 == 7 else share + (1 if index < extra else 0)
        rows.append(
            (
                n,
                meter.pk,
                meter.external_id,
                meter.meter_number,
                _path("meters_meter", meter.pk),
                customer.external_id,
                customer.name,
                customer.email,
                _path("meters_customer", customer.pk),
                consent_id,
                _path("consents_hostedconsent", consents[consent_id]),
                0.5 + (n * 7919 % 1000) / 40,
                plan.today - timedelta(days=stale_days, minutes=30),
                count,
            )
        )
    cursor.executemany("INSERT INTO demo_meter VALUES (" + ", ".join(["%s"] * 14) + ")", rows)


def _demo_bill_create(cursor, plan: Plan) -> None:
    cursor.execute(
        "CREATE UNLOGGED TABLE demo_bill (n int PRIMARY KEY, external_id text, "
        "invoice_id text, company_id text, company_name text, path text)"
    )
    bills = UtilityBill.objects.filter(
        external_id__in=[demo_uuid("bill", n) for n in range(plan.bills)]
    ).order_by("pk")
    cursor.executemany(
        "INSERT INTO demo_bill VALUES (%s, %s, %s, %s, %s, %s)",
        [
            (
                n,
                bill.external_id,
                bill.invoice_id,
                bill.company_nectar_id,
                bill.company_name,
                _path("meters_utilitybill", bill.pk),
            )
            for n, bill in enumerate(bills)
        ],
    )


def _demo_connection_create(cursor, plan: Plan) -> None:
    cursor.execute(
        "CREATE UNLOGGED TABLE demo_connection (n int PRIMARY KEY, "
        "external_id text, company_id text, company_name text, status text, "
        "accounts text[], path text)"
    )
    connections = (
        UtilityConnection.objects.filter(
            external_id__in=[demo_uuid("connection", n) for n in range(plan.connections)]
        )
        .prefetch_related("accounts")
        .order_by("pk")
    )
    cursor.executemany(
        "INSERT INTO demo_connection VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (
                n,
                c.external_id,
                c.company_nectar_id,
                c.company_name,
                c.status,
                [a.account_number for a in c.accounts.all()],
                _path("consents_utilityconnection", c.pk),
            )
            for n, c in enumerate(connections)
        ],
    )


def _path(name: str, pk) -> str:
    return reverse(f"admin:{name}_change", args=[pk])
