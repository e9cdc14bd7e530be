from django.contrib import admin

from config.admin_tools import Column, LargeTableAdmin, export_csv_action
from meters.models import ApiKeyRotation, Customer, IntervalReading, Meter, PlatformUser


def _iso(moment):
    return moment.isoformat() if moment else ""


CUSTOMER_COLUMNS = [
    Column("openvolt_id", lambda c: c.external_id),
    Column("name", lambda c: c.name),
    Column("email", lambda c: c.email),
    Column("address", lambda c: c.address),
    Column("account", lambda c: c.account_id),
    Column("created_on_platform", lambda c: _iso(c.created_on_platform)),
]

METER_COLUMNS = [
    Column("openvolt_id", lambda m: m.external_id),
    Column("meter_number", lambda m: m.meter_number),
    Column("customer", lambda m: m.customer.name if m.customer else ""),
    Column("customer_email", lambda m: m.customer.email if m.customer else ""),
    Column("valid", lambda m: m.valid),
    Column("status", lambda m: m.status),
    Column("data_source", lambda m: m.data_source),
    Column("update_frequency", lambda m: m.update_frequency),
    Column("latest_reading_start", lambda m: _iso(m.latest_reading_start)),
]

READING_COLUMNS = [
    Column("meter_number", lambda r: r.meter.meter_number),
    Column("meter_openvolt_id", lambda r: r.meter.external_id),
    Column("start", lambda r: _iso(r.start)),
    Column("consumption_kwh", lambda r: r.consumption_kwh),
]


class MeterInline(admin.TabularInline):
    model = Meter
    fields = ["meter_number", "external_id", "valid", "status", "latest_reading_start"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "external_id", "created_on_platform"]
    search_fields = ["=external_id", "name", "email"]
    search_help_text = "Name or e-mail (contains), or the exact Openvolt id."
    readonly_fields = ["mirrored_at"]
    inlines = [MeterInline]
    actions = [export_csv_action(CUSTOMER_COLUMNS)]


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = [
        "meter_number",
        "customer",
        "valid",
        "status",
        "data_source",
        "update_frequency",
        "latest_reading_start",
    ]
    list_filter = ["valid", "status", "data_source", "update_frequency"]
    list_select_related = ["customer"]
    search_fields = ["^meter_number", "=external_id", "customer__email"]
    search_help_text = "Meter number (starts with), exact Openvolt id, or customer e-mail."
    autocomplete_fields = ["customer"]
    readonly_fields = ["latest_reading_start", "mirrored_at"]
    actions = [export_csv_action(METER_COLUMNS)]


@admin.register(IntervalReading)
class IntervalReadingAdmin(LargeTableAdmin):
    list_display = ["meter", "start", "consumption_kwh", "fetched_at"]
    list_select_related = ["meter"]
    search_fields = ["=meter__meter_number", "=meter__external_id"]
    search_help_text = "Exact meter number or Openvolt meter id."
    raw_id_fields = ["meter"]
    actions = [export_csv_action(READING_COLUMNS)]


@admin.register(PlatformUser)
class PlatformUserAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "external_id", "created_on_platform"]
    search_fields = ["=external_id", "email", "name"]
    readonly_fields = ["mirrored_at"]


@admin.register(ApiKeyRotation)
class ApiKeyRotationAdmin(admin.ModelAdmin):
    list_display = ["rotated_at", "account_name", "account_id", "key_last_four", "readonly"]
    readonly_fields = [f.name for f in ApiKeyRotation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
