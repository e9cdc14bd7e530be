"""The local mirror of Openvolt's customers, meters and readings, and of Nectar's bills."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Customer(models.Model):
    """An Openvolt customer: the company or household that owns meters."""

    external_id = models.CharField("Openvolt id", max_length=64, unique=True)
    account_id = models.CharField("Openvolt account", max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    address = models.TextField(blank=True)
    logo_url = models.URLField(max_length=500, blank=True)
    created_on_platform = models.DateTimeField(null=True, blank=True)
    # When the platform last changed what is mirrored here: older news never overwrites it.
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The object as Openvolt sent it.")
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "external_id"]
        indexes = [models.Index(fields=["email"], name="customer_email")]

    def __str__(self):
        return self.name or self.external_id


class Meter(models.Model):
    """An Openvolt meter, identified by its MPAN (UK) or EAN (NL) meter number."""

    external_id = models.CharField("Openvolt id", max_length=64, unique=True)
    meter_number = models.CharField(max_length=64, db_index=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="meters"
    )
    account_id = models.CharField("Openvolt account", max_length=64, blank=True)
    enabled = models.BooleanField(default=True)
    valid = models.BooleanField(null=True, help_text="Openvolt's verdict: can data be collected?")
    status = models.CharField(max_length=32, blank=True)
    data_source = models.CharField(max_length=32, blank=True)
    update_frequency = models.CharField(max_length=32, blank=True)
    validity_state = models.JSONField(
        default=dict, blank=True, help_text="Why the meter is or is not valid, per Openvolt."
    )
    created_on_platform = models.DateTimeField(null=True, blank=True)
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    latest_reading_start = models.DateTimeField(
        null=True, blank=True, help_text="Start of the newest half-hour mirrored."
    )
    # Worked out when its readings are stored, and nightly (meters/completeness.py).
    completeness = models.DecimalField(
        "completeness (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Of the half-hours from its first reading in the last 13 months to its "
        "latest, the share that has a reading.",
    )
    half_hours_missing = models.PositiveIntegerField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The object as Openvolt sent it.")
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["meter_number"]
        permissions = [("refetch_gaps", "Can re-fetch a meter's missing half-hours")]
        # The dashboard counts and lists the meters whose data stopped coming.
        indexes = [models.Index(fields=["latest_reading_start"], name="meter_latest_reading")]

    def __str__(self):
        return self.meter_number or self.external_id


class IntervalReading(models.Model):
    """Consumption over one half-hour, from `start`; a re-fetch replaces a revised value."""

    # No index of its own: the unique (meter, start) index serves every lookup by meter.
    meter = models.ForeignKey(
        Meter, on_delete=models.CASCADE, related_name="readings", db_index=False
    )
    start = models.DateTimeField()
    consumption_kwh = models.DecimalField("consumption (kWh)", max_digits=14, decimal_places=6)
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["meter", "-start"]
        constraints = [
            models.UniqueConstraint(fields=["meter", "start"], name="reading_unique_per_start"),
        ]
        indexes = [models.Index(fields=["-start"], name="reading_start")]

    def __str__(self):
        return f"{self.meter_id} {self.start:%Y-%m-%d %H:%M} {self.consumption_kwh} kWh"


class MeterDay(models.Model):
    """How many half-hours of a meter have a reading on one UTC day: 48 when none is missing.
    Recounted for the days each store touches; what completeness is worked out from."""

    # No index of its own: the unique (meter, day) index serves every lookup by meter.
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="days", db_index=False)
    day = models.DateField(help_text="UTC day.")
    half_hours = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = "meter's half-hours of a day"
        constraints = [
            models.UniqueConstraint(fields=["meter", "day"], name="meter_day_unique"),
        ]

    def __str__(self):
        return f"{self.meter_id} {self.day}: {self.half_hours} half-hours"


class ReadingsReceivedDaily(models.Model):
    """How many half-hourly readings arrived on a day, counted as they are stored.

    Each day has a few rows (`slot`, from the meter's id) that are added up when read:
    workers storing readings for different meters at the same moment then seldom wait on
    one another's row lock until their transactions end.
    """

    SLOTS = 16

    day = models.DateField()
    slot = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "daily count of readings received"
        verbose_name_plural = "daily counts of readings received"
        ordering = ["-day", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["day", "slot"], name="readings_received_daily_unique"),
        ]

    def __str__(self):
        return f"{self.day} (slot {self.slot}): {self.count} readings"


class PlatformUser(models.Model):
    """A user of the Openvolt account (`user.created`; Openvolt publishes no schema)."""

    external_id = models.CharField("Openvolt id", max_length=64, unique=True)
    account_id = models.CharField("Openvolt account", max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    created_on_platform = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The object as Openvolt sent it.")
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Openvolt user"
        ordering = ["email", "external_id"]

    def __str__(self):
        return self.email or self.name or self.external_id


class ApiKeyRotation(models.Model):
    """The Openvolt account's API key changed. Only the key's last four characters are kept."""

    account_id = models.CharField("Openvolt account", max_length=64)
    account_name = models.CharField(max_length=255, blank=True)
    account_email = models.EmailField(max_length=254, blank=True)
    key_last_four = models.CharField(max_length=4, blank=True)
    readonly = models.BooleanField(null=True)
    rotated_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-rotated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account_id", "rotated_at"], name="api_key_rotation_unique"
            ),
        ]

    def __str__(self):
        account = self.account_name or self.account_id
        return f"API key of {account} rotated {self.rotated_at:%Y-%m-%d %H:%M}"


def _amount(verbose_name=None):
    """A charge or quantity as Nectar sends it: a decimal string, absent when not on the bill."""
    return models.DecimalField(verbose_name, max_digits=20, decimal_places=6, null=True, blank=True)


class UtilityBill(models.Model):
    """A Nectar document: one utility bill, with its charges, line items and meter usage."""

    external_id = models.CharField("Nectar id", max_length=64, unique=True)
    company_nectar_id = models.CharField("company Nectar id", max_length=64)
    company_external_id = models.CharField(max_length=255, blank=True)
    company_name = models.CharField(max_length=255, blank=True)
    invoice_id = models.CharField(max_length=255, blank=True, db_index=True)
    utility_company = models.CharField(max_length=255, blank=True)
    document_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    period_start = models.DateField(null=True, blank=True, help_text="Earliest usage start.")
    period_end = models.DateField(null=True, blank=True, help_text="Latest usage end.")

    total_charges = _amount()
    total_charges_units = models.CharField(max_length=32, blank=True)
    total_document_charges = _amount()
    total_document_charges_units = models.CharField(max_length=32, blank=True)
    charges_units = models.CharField(max_length=32, blank=True)
    current_charges = _amount()
    credits = _amount()
    current_open_balance = _amount()
    previous_close_balance = _amount()
    after_previous_charges = _amount()
    after_previous_credits = _amount()
    after_previous_total_payment = _amount()
    electricity_delivery_charges = _amount()
    electricity_demand_charges = _amount()
    electricity_supply_charges = _amount()
    gas_delivery_charges = _amount()
    gas_supply_charges = _amount()
    interest_charges = _amount()
    tax_charges = _amount()

    tax_id = models.CharField(max_length=255, blank=True)
    is_flagged = models.BooleanField(null=True)
    notes = models.TextField(blank=True)
    url = models.URLField(max_length=1000, blank=True)
    audit_trail_url = models.URLField("audit trail URL", max_length=1000, blank=True)
    processed_on_platform = models.DateTimeField(null=True, blank=True)
    created_on_platform = models.DateTimeField(null=True, blank=True)
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Nectar deleted the document; kept here as a record."
    )
    raw = models.JSONField(default=dict, blank=True, help_text="The object as Nectar sent it.")
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "utility bill"
        ordering = ["-document_date", "external_id"]
        indexes = [
            models.Index(fields=["company_name"], name="bill_company_name"),
            models.Index(fields=["-document_date"], name="bill_document_date"),
        ]

    def __str__(self):
        return f"Bill {self.invoice_id or self.external_id} ({self.company_name})"


class BillLineItem(models.Model):
    bill = models.ForeignKey(UtilityBill, on_delete=models.CASCADE, related_name="line_items")
    position = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    account_ids = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    meter_ids = ArrayField(models.CharField(max_length=255), default=list, blank=True)
    electricity_is_demand = models.BooleanField(null=True)
    electricity_time_of_use = models.CharField(max_length=64, blank=True)
    multipliers = ArrayField(
        models.DecimalField(max_digits=20, decimal_places=6), default=list, blank=True
    )
    quantity = _amount()
    quantity_units = models.CharField(max_length=32, blank=True)
    rate = _amount()
    total_charge = _amount()

    class Meta:
        ordering = ["bill", "position"]

    def __str__(self):
        return self.description or f"Line {self.position}"


class BillMeterUsage(models.Model):
    """One meter's usage on a bill (Nectar's `meterSiteUsageData`)."""

    bill = models.ForeignKey(UtilityBill, on_delete=models.CASCADE, related_name="meter_usages")
    external_id = models.CharField("Nectar id", max_length=64, blank=True)
    account_id = models.CharField(max_length=255, blank=True)
    meter_id = models.CharField(max_length=255, blank=True, db_index=True)
    submeter_id = models.CharField(max_length=255, blank=True)
    pod_id = models.CharField("POD id", max_length=255, blank=True)
    icp = models.CharField("ICP", max_length=255, blank=True)
    site_nectar_id = models.CharField("site Nectar id", max_length=64, blank=True)
    site_external_id = models.CharField(max_length=255, blank=True)
    site_name = models.CharField(max_length=255, blank=True, db_index=True)
    site_address = models.TextField(blank=True)
    zipcode = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=64, blank=True)
    shop_number = models.CharField(max_length=64, blank=True)
    supplier_name = models.CharField(max_length=255, blank=True)
    utility_company = models.CharField(max_length=255, blank=True)
    tariff = models.CharField(max_length=255, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    days_in_range = models.IntegerField(null=True, blank=True)
    usage = models.CharField(max_length=255, blank=True)
    current_reading = _amount()
    previous_reading = _amount()
    billed_demand = _amount()
    current_charges = _amount()
    credits = _amount()
    electricity_delivery_charges = _amount()
    electricity_demand_charges = _amount()
    electricity_supply_charges = _amount()
    gas_delivery_charges = _amount()
    gas_supply_charges = _amount()
    tax_charges = _amount()
    total_document_charges = _amount()
    custom_container_name = models.CharField(max_length=255, blank=True)
    custom_container_size = _amount()
    custom_container_usage = _amount()
    is_estimated = models.BooleanField(null=True)
    is_flagged = models.BooleanField(null=True)
    is_implied = models.BooleanField(null=True)
    exclusion = models.BooleanField(null=True)
    document_notes = models.TextField(blank=True)
    audit_trail_url = models.URLField("audit trail URL", max_length=1000, blank=True)
    additional_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "meter usage on a bill"
        ordering = ["bill", "site_name", "meter_id"]

    def __str__(self):
        return f"{self.meter_id or 'meter'} at {self.site_name or 'a site'}"
