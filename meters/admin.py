from django.contrib import admin

from config.admin_tools import Column, LargeTableAdmin, MirrorAdmin, export_csv_action
from meters.models import (
    ApiKeyRotation,
    BillLineItem,
    BillMeterUsage,
    Customer,
    IntervalReading,
    Meter,
    PlatformUser,
    UtilityBill,
)


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
class CustomerAdmin(MirrorAdmin):
    list_display = ["name", "email", "external_id", "created_on_platform"]
    search_fields = ["=external_id", "name", "email"]
    search_help_text = "Name or e-mail (contains), or the exact Openvolt id."
    readonly_fields = ["mirrored_at"]
    inlines = [MeterInline]
    actions = [export_csv_action(CUSTOMER_COLUMNS)]


@admin.register(Meter)
class MeterAdmin(MirrorAdmin):
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
    readonly_fields = ["latest_reading_start", "mirrored_at"]
    actions = [export_csv_action(METER_COLUMNS)]


@admin.register(IntervalReading)
class IntervalReadingAdmin(MirrorAdmin, LargeTableAdmin):
    list_display = ["meter", "start", "consumption_kwh", "fetched_at"]
    list_select_related = ["meter"]
    search_fields = ["=meter__meter_number", "=meter__external_id"]
    search_help_text = "Exact meter number or Openvolt meter id."
    actions = [export_csv_action(READING_COLUMNS)]


@admin.register(PlatformUser)
class PlatformUserAdmin(MirrorAdmin):
    list_display = ["email", "name", "external_id", "created_on_platform"]
    search_fields = ["=external_id", "email", "name"]
    readonly_fields = ["mirrored_at"]


@admin.register(ApiKeyRotation)
class ApiKeyRotationAdmin(MirrorAdmin):
    list_display = ["rotated_at", "account_name", "account_id", "key_last_four", "readonly"]


BILL_COLUMNS = [
    Column("nectar_id", lambda b: b.external_id),
    Column("invoice_id", lambda b: b.invoice_id),
    Column("company", lambda b: b.company_name),
    Column("company_external_id", lambda b: b.company_external_id),
    Column("utility_company", lambda b: b.utility_company),
    Column("document_date", lambda b: b.document_date),
    Column("due_date", lambda b: b.due_date),
    Column("period_start", lambda b: b.period_start),
    Column("period_end", lambda b: b.period_end),
    Column("total_charges", lambda b: b.total_charges),
    Column("total_charges_units", lambda b: b.total_charges_units),
    Column("is_flagged", lambda b: b.is_flagged),
    Column("deleted_at", lambda b: _iso(b.deleted_at)),
]


class ReadOnlyTabular(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LineItemInline(ReadOnlyTabular):
    model = BillLineItem
    fields = [
        "position",
        "description",
        "quantity",
        "quantity_units",
        "rate",
        "total_charge",
        "meter_ids",
        "account_ids",
    ]


class MeterUsageInline(ReadOnlyTabular):
    model = BillMeterUsage
    fields = [
        "meter_id",
        "site_name",
        "account_id",
        "start_date",
        "end_date",
        "usage",
        "current_charges",
        "is_estimated",
    ]


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted on Nectar"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Current"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


@admin.register(UtilityBill)
class UtilityBillAdmin(MirrorAdmin):
    list_display = [
        "invoice_id",
        "company_name",
        "utility_company",
        "document_date",
        "due_date",
        "total_charges",
        "total_charges_units",
        "is_flagged",
        "deleted_at",
    ]
    list_filter = [DeletedFilter, "is_flagged", "utility_company"]
    search_fields = [
        "=invoice_id",
        "company_name",
        "=company_external_id",
        "=external_id",
        "meter_usages__site_name",
        "=meter_usages__meter_id",
    ]
    search_help_text = "Company or site name, or the exact invoice, meter, company or Nectar id."
    readonly_fields = ["deleted_at", "mirrored_at"]
    inlines = [LineItemInline, MeterUsageInline]
    actions = [export_csv_action(BILL_COLUMNS)]
