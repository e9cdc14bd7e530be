"""The demo's customers, meters, consents, follow-ups, connections and bills: a few hundred of
each, made with the ORM. Each function adds the objects that are missing and returns how many
it added."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction

from consents.models import (
    ConnectionAccount,
    FollowUp,
    FollowUpNote,
    HostedConsent,
    UtilityConnection,
)
from demo.names import (
    company_address,
    company_email,
    company_name,
    demo_id,
    demo_uuid,
    meter_number,
    utility_name,
)
from demo.plan import DEMO_ACCOUNT_ID, Plan
from meters.models import BillLineItem, BillMeterUsage, Customer, Meter, UtilityBill

# The follow-ups of revoked consents take these statuses in turn.
_FOLLOW_UP_STATUSES = [
    FollowUp.Status.OPEN,
    FollowUp.Status.CONTACTED,
    FollowUp.Status.RESOLVED,
    FollowUp.Status.OPEN,
    FollowUp.Status.WONT_FIX,
]


def customers_seed(*, plan: Plan) -> int:
    customers = []
    for n in range(plan.customers):
        name = company_name(n)
        created = datetime(2023, 1, 2, tzinfo=UTC) + timedelta(hours=37 * n)
        address = company_address(number=n)
        customer = Customer(
            external_id=demo_id("customer", n),
            account_id=DEMO_ACCOUNT_ID,
            name=name,
            email=company_email(name=name),
            address=address,
            created_on_platform=created,
            platform_updated_at=created,
        )
        customer.raw = {
            "_id": customer.external_id,
            "account": DEMO_ACCOUNT_ID,
            "name": name,
            "email": customer.email,
            "address": address,
            "created_at": created.isoformat(),
        }
        customers.append(customer)
    return len(_create_missing(Customer, customers))


def meters_seed(*, plan: Plan) -> int:
    """Eight meters for every five customers; one in forty was never read."""
    customer_pks = dict(
        Customer.objects.filter(
            external_id__in=[demo_id("customer", n) for n in range(plan.customers)]
        ).values_list("external_id", "pk")
    )
    meters = []
    for n in range(plan.meters):
        customer_id = customer_pks[demo_id("customer", n % plan.customers)]
        never_read = n % 40 == 7
        meter = Meter(
            external_id=demo_id("meter", n),
            meter_number=meter_number(n),
            customer_id=customer_id,
            account_id=DEMO_ACCOUNT_ID,
            valid=not never_read,
            status="pending" if never_read else "active",
            data_source="dcc" if n % 3 else "half-hourly-settlement",
            update_frequency="daily",
            validity_state={} if never_read else {"status": "valid"},
            created_on_platform=datetime(2023, 1, 2, tzinfo=UTC) + timedelta(hours=23 * n),
        )
        meter.raw = {
            "_id": meter.external_id,
            "meter_number": meter.meter_number,
            "customer": demo_id("customer", n % plan.customers),
            "status": meter.status,
            "data_source": meter.data_source,
            "update_frequency": meter.update_frequency,
        }
        meters.append(meter)
    return len(_create_missing(Meter, meters))


def consents_seed(*, plan: Plan) -> int:
    """A consent per customer, naming the customer's meters: most valid, some revoked lately,
    some never signed, some expiring within a month."""
    customers = {
        c.external_id: c
        for c in Customer.objects.filter(
            external_id__in=[demo_id("customer", n) for n in range(plan.customers)]
        )
    }
    numbers: dict[int, list[str]] = {}
    for n in range(plan.meters):
        numbers.setdefault(n % plan.customers, []).append(meter_number(n))
    consents = []
    for n in range(plan.customers):
        customer = customers[demo_id("customer", n)]
        created = plan.now - timedelta(days=100 + (n * 13) % 500)
        consent = HostedConsent(
            external_id=demo_id("consent", n),
            customer=customer,
            account_id=DEMO_ACCOUNT_ID,
            flow_type="gb.commercial.blanket" if n % 4 else "nl.residential.single",
            consent_method="letter-of-authority" if n % 3 else "online-signature",
            consentee_email_verified=n % 5 != 0,
            meter_numbers=numbers.get(n, []),
            version="0",
            created_on_platform=created,
            platform_updated_at=created,
        )
        _consent_state_set(consent, number=n, created=created, plan=plan)
        consent.raw = {
            "id": consent.external_id,
            "customer": {"id": customer.external_id, "email": customer.email},
            "meter_numbers": consent.meter_numbers,
            "valid": consent.valid,
            "flow_type": consent.flow_type,
        }
        consents.append(consent)
    return len(_create_missing(HostedConsent, consents))


def _consent_state_set(
    consent: HostedConsent, *, number: int, created: datetime, plan: Plan
) -> None:
    kind = number % 20
    if kind < 3:  # revoked within the last 80 days
        consent.valid = False
        consent.consented_at = created + timedelta(minutes=4)
        consent.revoked_at = plan.now - timedelta(days=(number * 37) % 80, hours=number % 24)
        consent.expiry = created + timedelta(days=365)
        consent.platform_updated_at = consent.revoked_at
    elif kind == 3:  # sent, never signed
        consent.valid = False
    elif kind < 6:  # expiring within a month
        consent.valid = True
        consent.consented_at = created + timedelta(minutes=4)
        consent.expiry = plan.today + timedelta(days=number % 28 + 1)
    else:
        consent.valid = True
        consent.consented_at = created + timedelta(minutes=4)
        consent.expiry = plan.today + timedelta(days=60 + (number * 7) % 340)


def follow_ups_seed(*, plan: Plan) -> int:
    """A follow-up, with its first note, for every revoked consent that has none yet."""
    revoked = HostedConsent.objects.filter(
        external_id__in=[demo_id("consent", n) for n in range(plan.customers)],
        revoked_at__isnull=False,
    ).exclude(follow_ups__isnull=False)
    follow_ups = []
    for number, consent in enumerate(revoked.select_related("customer").order_by("pk")):
        status = _FOLLOW_UP_STATUSES[number % len(_FOLLOW_UP_STATUSES)]
        opened = consent.revoked_at + timedelta(seconds=3)
        follow_up = FollowUp(
            consent=consent,
            status=status,
            reason="The customer revoked the hosted consent.",
            revoked_at=consent.revoked_at,
            customer_name=consent.customer.name,
            customer_email=consent.customer.email,
            customer_address=consent.customer.address,
            meter_numbers=consent.meter_numbers,
            opened_at=opened,
            due_on=(opened + timedelta(days=5)).date(),
        )
        if status in (FollowUp.Status.RESOLVED, FollowUp.Status.WONT_FIX):
            follow_up.closed_at = opened + timedelta(days=2, hours=3)
        follow_ups.append(follow_up)
    with transaction.atomic():
        follow_ups = FollowUp.objects.bulk_create(follow_ups)
        FollowUpNote.objects.bulk_create(
            FollowUpNote(
                follow_up=follow_up,
                kind=FollowUpNote.Kind.REVOCATION,
                text=f"Consent revoked at {follow_up.revoked_at:%Y-%m-%d %H:%M}.",
                created_at=follow_up.opened_at,
            )
            for follow_up in follow_ups
        )
    return len(follow_ups)


def connections_seed(*, plan: Plan) -> int:
    """Nectar's utility connections, with one to three accounts each."""
    connections, accounts = [], {}
    for n in range(plan.connections):
        name = company_name(n)
        connection = UtilityConnection(
            external_id=demo_uuid("connection", n),
            status=["active", "active", "active", "error", "pending"][n % 5],
            country="GB",
            data_source=utility_name(number=n),
            company_nectar_id=demo_uuid("company", n),
            company_external_id=f"CUST-{n:05d}",
            company_public_id=demo_id("company-public", n, length=12),
            company_name=name,
            emails=[company_email(name=name)],
            validated_at=plan.now - timedelta(days=n % 60),
            created_on_platform=plan.now - timedelta(days=200 + n),
            platform_updated_at=plan.now - timedelta(days=n % 60),
        )
        connection.raw = {"id": connection.external_id, "status": connection.status}
        connections.append(connection)
        accounts[connection.external_id] = [
            f"A-{demo_id('account', n * 3 + k, length=8).upper()}" for k in range(1 + n % 3)
        ]
    with transaction.atomic():
        new_connections = _create_missing(UtilityConnection, connections)
        ConnectionAccount.objects.bulk_create(
            ConnectionAccount(
                connection=connection,
                account_number=number,
                data_source_types=["electricity"],
                site_name=f"{connection.company_name} site {k + 1}",
            )
            for connection in new_connections
            for k, number in enumerate(accounts[connection.external_id])
        )
    return len(new_connections)


def bills_seed(*, plan: Plan) -> int:
    """Nectar's bills over the last year, each with two line items and one meter's usage."""
    bills = []
    for n in range(plan.bills):
        company = n % plan.customers
        document_date = (plan.today - timedelta(days=30 * (n % 12) + n % 28)).date()
        charges = Decimal(500 + (n * 7919) % 9000) + Decimal(n % 100) / 100
        bill = UtilityBill(
            external_id=demo_uuid("bill", n),
            company_nectar_id=demo_uuid("company", company),
            company_external_id=f"CUST-{company:05d}",
            company_name=company_name(company),
            invoice_id=f"INV-{70000000 + n * 37}",
            utility_company=utility_name(number=n),
            document_date=document_date,
            due_date=document_date + timedelta(days=14),
            period_start=document_date - timedelta(days=31),
            period_end=document_date - timedelta(days=1),
            total_charges=charges,
            total_charges_units="GBP",
            charges_units="GBP",
            current_charges=charges,
            is_flagged=n % 11 == 0,
            created_on_platform=plan.now - timedelta(days=30 * (n % 12)),
        )
        bill.raw = {"id": bill.external_id, "invoiceId": bill.invoice_id}
        bills.append(bill)
    with transaction.atomic():
        new_bills = _create_missing(UtilityBill, bills)
        items, usages = [], []
        numbers = {demo_uuid("bill", n): n for n in range(plan.bills)}
        for bill in new_bills:
            number = meter_number(numbers[bill.external_id] % plan.meters)
            bill_items, usage = _bill_lines(bill, meter=number)
            items += bill_items
            usages.append(usage)
        BillLineItem.objects.bulk_create(items)
        BillMeterUsage.objects.bulk_create(usages)
    return len(new_bills)


def _bill_lines(bill: UtilityBill, *, meter: str) -> tuple[list[BillLineItem], BillMeterUsage]:
    """Nine tenths of the charges for the energy at 0.20 a kWh, the rest standing charge."""
    energy = (bill.total_charges * Decimal("0.9")).quantize(Decimal("0.01"))
    items = [
        BillLineItem(
            bill=bill,
            position=1,
            description="Electricity unit rate",
            meter_ids=[meter],
            quantity=(energy / Decimal("0.2")).quantize(Decimal("0.1")),
            quantity_units="kWh",
            rate=Decimal("0.2"),
            total_charge=energy,
        ),
        BillLineItem(
            bill=bill,
            position=2,
            description="Standing charge",
            meter_ids=[meter],
            total_charge=bill.total_charges - energy,
        ),
    ]
    usage = BillMeterUsage(
        bill=bill,
        meter_id=meter,
        site_name=f"{bill.company_name} site 1",
        start_date=bill.period_start,
        end_date=bill.period_end,
        usage=str((energy / Decimal("0.2")).quantize(Decimal("0.1"))),
        current_charges=bill.total_charges,
    )
    return items, usage


def _create_missing(model, objects: list, key: str = "external_id") -> list:
    """Save the objects whose `key` is not stored yet; returns the ones created."""
    stored = set(
        model.objects.filter(**{f"{key}__in": [getattr(o, key) for o in objects]}).values_list(
            key, flat=True
        )
    )
    missing = [o for o in objects if getattr(o, key) not in stored]
    return model.objects.bulk_create(missing, batch_size=1000)
