"""The local mirror of Openvolt's customers, meters and half-hourly readings."""

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
    raw = models.JSONField(default=dict, blank=True, help_text="The object as Openvolt sent it.")
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["meter_number"]

    def __str__(self):
        return self.meter_number or self.external_id


class IntervalReading(models.Model):
    """Consumption over one half-hour, from `start`; a re-fetch replaces a revised value."""

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="readings")
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
