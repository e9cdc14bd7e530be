"""Admin of the mirror's large and simple lists: readings, platform users, key rotations, bills.
The customer and meter pages, which join other apps, are the console's (console/admin/)."""

from django.contrib import admin
from django.db.models import Q

from common.admin import LargeTableAdmin, MirrorAdmin, ReadOnlyInline
from common.exports import (
    Column,
    ExportPermissionMixin,
    FieldColumn,
    IsoText,
    export_actions,
    iso,
)
from meters.models import (
    ApiKeyRotation,
    BillLineItem,
    BillMeterUsage,
    IntervalReading,
    Meter,
    PlatformUser,
    UtilityBill,
)

# Read as plain database values, not instances: readings run to millions of rows.
READING_COLUMNS = [
    FieldColumn("meter_number", "meter__meter_number"),
    FieldColumn("meter_openvolt_id", "meter__external_id"),
    FieldColumn("start", IsoText("start")),
    FieldColumn("consumption_kwh", "consumption_kwh"),
]


@admin.register(IntervalReading)
class IntervalReadingAdmin(ExportPermissionMixin, MirrorAdmin, LargeTableAdmin):
    list_display = ["meter", "start", "consumption_kwh", "fetched_at"]
    # A meter page's chart links each day to that meter's half-hours of the day.
    extra_lookups = ("meter", "start__gte", "start__lt")
    list_select_related = ["meter"]
    search_fields = ["=meter__meter_number", "=meter__external_id"]
    search_help_text = "Exact meter number or Openvolt meter id."
    # Newest first, as the indexes run: (start DESC) for the whole table, (meter, start)
    # for one meter. The model's ("meter", "-start") would sort by meter number through a join.
    ordering = ["-start", "-id"]
    # CSV only: 17,520 readings a meter a year, so a few dozen meters outgrow an Excel sheet.
    actions = [*export_actions(READING_COLUMNS, xlsx=False)]

    def get_search_results(self, request, queryset, search_term):
        """The meters first, then their readings by meter id: joined to a condition on the
        meter, PostgreSQL cannot tell how many readings match and may walk the whole (start)
        index looking for a meter that stopped sending data long ago."""
        term = search_term.strip()
        if not term:
            return queryset, False
        meters = Meter.objects.filter(
            Q(meter_number=term) | Q(external_id__in={term, term.lower()})
        )
        return queryset.filter(meter_id__in=list(meters.values_list("pk", flat=True))), False


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
    Column("deleted_at", lambda b: iso(b.deleted_at)),
]


class LineItemInline(ReadOnlyInline):
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


class MeterUsageInline(ReadOnlyInline):
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
class UtilityBillAdmin(ExportPermissionMixin, MirrorAdmin):
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
    actions = [*export_actions(BILL_COLUMNS)]
